// Command sp-server is a small web service protected by SAML single
// sign-on, configured from an authentication profile in JSON
// (package profile).
//
// It serves:
//
//	GET  /                  the signed-in user, or a redirect to /login
//	GET  /login             starts SP-initiated sign-in (AuthnRequest to the IdP)
//	POST <ACS path>         the assertion consumer service, e.g. /login/saml
//	GET  /metadata          the SP metadata to give the IdP administrator
//	POST /logout            ends the session (then the profile's logout URL);
//	                        POST only, so that no link on another site signs
//	                        a user out
//
// Sessions are kept in memory behind an HttpOnly, SameSite=Lax cookie.
// Outstanding AuthnRequests are matched by RelayState, so the IdP's
// cross-site POST needs no cookie.
//
// Usage:
//
//	sp-server -profile profile.json -account CUK123ABC [-app applications]
//	          [-listen 127.0.0.1:8443] [-base-url https://localhost:8443]
//	          [-tls-cert cert.pem -tls-key key.pem]
//
// The entity ID and ACS URL are the grid's (https://<api-host>/sso/<ACCOUNT>
// and https://<api-host>/login/saml); -base-url puts the same paths on a
// host of your own, which is what a local trial needs. Without -tls-cert
// the server speaks plain HTTP and then only listens on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/region"
	"github.com/gatehouse-id/gatehouse/saml"
)

func main() {
	var (
		profilePath = flag.String("profile", "", "authentication profile JSON file (required)")
		account     = flag.String("account", "", "Mimecast account code (required)")
		grid        = flag.String("region", "", "grid, when the account code does not tell it")
		appName     = flag.String("app", "applications", "applications, personal-portal or admin-console")
		listen      = flag.String("listen", "127.0.0.1:8443", "address to listen on")
		baseURL     = flag.String("base-url", "", "serve the grid's paths on this scheme://host[:port] instead of the grid's API host")
		certFile    = flag.String("tls-cert", "", "TLS certificate (PEM)")
		keyFile     = flag.String("tls-key", "", "TLS private key (PEM)")
	)
	flag.Parse()
	if err := serve(*profilePath, *account, *grid, *appName, *listen, *baseURL, *certFile, *keyFile); err != nil {
		fmt.Fprintln(os.Stderr, "sp-server:", err)
		os.Exit(1)
	}
}

func serve(profilePath, account, grid, appName, listen, baseURL, certFile, keyFile string) error {
	cfg, err := loadConfig(profilePath, account, grid, appName, baseURL)
	if err != nil {
		return err
	}
	if cfg.Profile.MonitorMetadataURL {
		m, err := profile.NewMonitor(cfg.Profile, saml.MetadataCacheConfig{})
		if err != nil {
			return err
		}
		cfg.Monitor = m
	}
	srv, err := newServer(cfg)
	if err != nil {
		return err
	}
	if certFile == "" {
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return errors.New("plain HTTP is only served on loopback; give -tls-cert and -tls-key")
		}
	}
	hs := &http.Server{
		Addr:              listen,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shut)
	}()
	sp, err := srv.provider(ctx)
	if err != nil {
		return err
	}
	log.Printf("serving %s for %s (entity ID %s, ACS %s)", listen, cfg.App, sp.EntityID(), sp.ACSURL())
	if baseURL == "" {
		log.Printf("the IdP posts its response to %s, the grid's host, not to this server: for a local trial give -base-url with this server's own URL", sp.ACSURL())
	}
	if certFile != "" {
		err = hs.ListenAndServeTLS(certFile, keyFile)
	} else {
		err = hs.ListenAndServe()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// loadConfig reads and checks the profile and the account, grid and app.
func loadConfig(profilePath, account, grid, appName, baseURL string) (config, error) {
	if profilePath == "" || account == "" {
		return config{}, errors.New("-profile and -account are required")
	}
	f, err := os.Open(profilePath)
	if err != nil {
		return config{}, err
	}
	defer f.Close()
	p, err := profile.Decode(f)
	if err != nil {
		return config{}, fmt.Errorf("%s: %w", profilePath, err)
	}
	var r region.Region
	if grid != "" {
		r, err = region.Lookup(grid)
	} else {
		r, err = region.ForAccount(account)
	}
	if err != nil {
		return config{}, err
	}
	app, err := region.ParseApp(appName)
	if err != nil {
		return config{}, err
	}
	return config{Profile: p, Region: r, Account: account, App: app, BaseURL: baseURL}, nil
}
