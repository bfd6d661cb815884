package bench

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// AggregateEntityID is the entity ID of entity i of [Aggregate].
func AggregateEntityID(i int) string {
	return fmt.Sprintf("https://idp%05d.example.edu/idp/shibboleth", i)
}

// Aggregate returns a Shibboleth-style federation aggregate of n IdP
// EntityDescriptors (entity IDs from [AggregateEntityID]), each with a
// display name, an RSA-2048 signing certificate wrapped in 64-character
// lines, a NameIDFormat and SSO Redirect and POST endpoints: about 2 KB an
// entity, like the entries of a national federation feed.
func Aggregate(n int) ([]byte, error) {
	cert, err := selfSigned("federation member")
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString(cert.Raw)
	var wrapped bytes.Buffer
	for len(b64) > 0 {
		k := min(64, len(b64))
		wrapped.WriteString("\n          ")
		wrapped.WriteString(b64[:k])
		b64 = b64[k:]
	}
	c := wrapped.String()
	var b bytes.Buffer
	b.Grow(n * 2200)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_agg" Name="urn:example:federation" cacheDuration="PT4H">` + "\n")
	for i := range n {
		fmt.Fprintf(&b, `  <md:EntityDescriptor ID="_e%05d" entityID="%s">
    <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
      <md:Extensions><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui"><mdui:DisplayName xml:lang="en">Institution %d</mdui:DisplayName></mdui:UIInfo></md:Extensions>
      <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s
        </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
      <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp%05d.example.edu/idp/profile/SAML2/Redirect/SSO"/>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp%05d.example.edu/idp/profile/SAML2/POST/SSO"/>
    </md:IDPSSODescriptor>
  </md:EntityDescriptor>
`, i, AggregateEntityID(i), i, c, i, i)
	}
	b.WriteString("</md:EntitiesDescriptor>\n")
	return b.Bytes(), nil
}

func selfSigned(cn string) (*x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// PeakHeapGrowth runs f once and returns the highest growth of the live
// heap (runtime.MemStats.HeapAlloc over its value after a GC just before
// f) seen while f ran, sampled every interval and once more at the end.
// Whatever f still holds when it returns counts; garbage it made counts
// until the collector frees it, as it would in a real process.
func PeakHeapGrowth(interval time.Duration, f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var high atomic.Uint64
	high.Store(base)
	record := func(v uint64) {
		for {
			cur := high.Load()
			if v <= cur || high.CompareAndSwap(cur, v) {
				return
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s runtime.MemStats
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&s)
			record(s.HeapAlloc)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	record(ms.HeapAlloc)
	return high.Load() - base
}

// CPUTime is the user plus system CPU time the process has used so far
// (getrusage RUSAGE_SELF); a benchmark's CPU time per operation does not
// grow when other processes compete for the cores, unlike its wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
