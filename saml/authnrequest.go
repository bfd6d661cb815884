package saml

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"html/template"
	"math/big"
	"net/url"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// AuthnRequest is a SAML authentication request ready to be sent to the
// IdP with the HTTP-Redirect ([AuthnRequest.RedirectURL]) or HTTP-POST
// ([AuthnRequest.PostForm]) binding. Keep ID with the user's session (for
// example in a signed cookie) and pass it to [ServiceProvider.Verify].
type AuthnRequest struct {
	// ID is the request ID; the response's InResponseTo must equal it.
	ID string
	// RelayState is returned by the IdP with the response.
	RelayState string
	// IssueInstant is when the request was made.
	IssueInstant time.Time

	sp *ServiceProvider
}

// AuthnRequest creates a request with a fresh random ID. relayState is
// carried to the IdP and back; it must not exceed [MaxRelayStateBytes]
// (the bindings' limit) — store anything longer server-side and pass a
// key.
func (sp *ServiceProvider) AuthnRequest(relayState string) (*AuthnRequest, error) {
	if !sp.made() {
		return nil, errNotMade
	}
	if len(relayState) > MaxRelayStateBytes {
		return nil, &ConfigError{Field: "relayState", Reason: fmt.Sprintf("%d bytes, the SAML bindings allow at most %d", len(relayState), MaxRelayStateBytes)}
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("saml: AuthnRequest ID: %w", err)
	}
	return &AuthnRequest{
		ID:           "id-" + hex.EncodeToString(b[:]),
		RelayState:   relayState,
		IssueInstant: sp.now().UTC(),
		sp:           sp,
	}, nil
}

// ssoEndpoint returns the IdP SSO location for binding.
func (r *AuthnRequest) ssoEndpoint(binding string) (string, error) {
	if r.sp == nil {
		return "", errNoServiceProvider
	}
	for _, e := range r.sp.cfg.IdP.SSO {
		if e.Binding == binding && e.Location != "" {
			return e.Location, nil
		}
	}
	return "", &ConfigError{Field: "IdP.SSO", Reason: "the IdP has no SingleSignOnService with binding " + binding}
}

// errNoServiceProvider: the AuthnRequest was not made by
// [ServiceProvider.AuthnRequest].
var errNoServiceProvider = &ConfigError{Field: "AuthnRequest", Reason: "not made by ServiceProvider.AuthnRequest"}

// XML returns the request document with Destination set to destination,
// or nil when r was not made by [ServiceProvider.AuthnRequest].
func (r *AuthnRequest) XML(destination string) []byte {
	if r.sp == nil {
		return nil
	}
	cfg := &r.sp.cfg
	var b bytes.Buffer
	b.WriteString(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="`)
	b.WriteString(r.ID)
	b.WriteString(`" Version="2.0" IssueInstant="`)
	b.WriteString(r.IssueInstant.Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(`" Destination="`)
	xmlEscape(&b, destination)
	b.WriteString(`" AssertionConsumerServiceURL="`)
	xmlEscape(&b, cfg.ACSURL)
	b.WriteString(`" ProtocolBinding="` + BindingHTTPPost + `"`)
	if cfg.ForceAuthn {
		b.WriteString(` ForceAuthn="true"`)
	}
	b.WriteString(`><saml:Issuer>`)
	xmlEscape(&b, cfg.EntityID)
	b.WriteString(`</saml:Issuer>`)
	if cfg.NameIDFormat != "" {
		b.WriteString(`<samlp:NameIDPolicy Format="`)
		xmlEscape(&b, cfg.NameIDFormat)
		b.WriteString(`" AllowCreate="true"/>`)
	}
	if len(cfg.RequestedAuthnContext) > 0 {
		b.WriteString(`<samlp:RequestedAuthnContext Comparison="exact">`)
		for _, ac := range cfg.RequestedAuthnContext {
			b.WriteString(`<saml:AuthnContextClassRef>`)
			xmlEscape(&b, ac)
			b.WriteString(`</saml:AuthnContextClassRef>`)
		}
		b.WriteString(`</samlp:RequestedAuthnContext>`)
	}
	b.WriteString(`</samlp:AuthnRequest>`)
	return b.Bytes()
}

func xmlEscape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}

// RedirectURL returns the URL to send the browser to with the
// HTTP-Redirect binding: the IdP's Redirect SSO endpoint with the
// DEFLATE-compressed, base64-encoded request in SAMLRequest, RelayState,
// and — when the SP has a SigningKey — SigAlg and Signature computed over
// the query string as the binding specifies (no XML signature is embedded).
func (r *AuthnRequest) RedirectURL() (string, error) {
	dest, err := r.ssoEndpoint(BindingHTTPRedirect)
	if err != nil {
		return "", err
	}
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	_, _ = fw.Write(r.XML(dest))
	if err := fw.Close(); err != nil {
		return "", fmt.Errorf("saml: AuthnRequest: deflate: %w", err)
	}
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(z.Bytes()))
	if r.RelayState != "" {
		q += "&RelayState=" + url.QueryEscape(r.RelayState)
	}
	if key := r.sp.cfg.SigningKey; key != nil {
		alg, sig, err := signRedirect(key)
		if err != nil {
			return "", err
		}
		q += "&SigAlg=" + url.QueryEscape(alg)
		sigValue, err := sig(q)
		if err != nil {
			return "", fmt.Errorf("saml: AuthnRequest: sign: %w", err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sigValue))
	}
	// The endpoint's own query parameters are kept; a fragment would
	// swallow the query, so it is dropped.
	u, err := url.Parse(dest)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", &ConfigError{Field: "IdP.SSO", Reason: fmt.Sprintf("%q is not an absolute http(s) URL", dest)}
	}
	if u.RawQuery != "" {
		q = u.RawQuery + "&" + q
	}
	u.RawQuery, u.Fragment, u.RawFragment = q, "", ""
	return u.String(), nil
}

// signRedirect returns the SigAlg for key and a function signing the
// octets of the query string (SAMLRequest, RelayState, SigAlg).
func signRedirect(key crypto.Signer) (string, func(string) ([]byte, error), error) {
	switch key.Public().(type) {
	case *rsa.PublicKey:
		return dsig.RSASHA256SignatureMethod, func(q string) ([]byte, error) {
			h := sha256.Sum256([]byte(q))
			return key.Sign(rand.Reader, h[:], crypto.SHA256)
		}, nil
	case *ecdsa.PublicKey:
		return dsig.ECDSASHA256SignatureMethod, func(q string) ([]byte, error) {
			h := sha256.Sum256([]byte(q))
			der, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
			if err != nil {
				return nil, err
			}
			// XML Signature encodes ECDSA values as r || s (RFC 4051).
			var rs struct{ R, S *big.Int }
			if _, err := asn1.Unmarshal(der, &rs); err != nil {
				return nil, err
			}
			size := (key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
			out := make([]byte, 2*size)
			rs.R.FillBytes(out[:size])
			rs.S.FillBytes(out[size:])
			return out, nil
		}, nil
	}
	return "", nil, &ConfigError{Field: "SigningKey", Reason: fmt.Sprintf("unsupported key type %T", key.Public())}
}

var postFormTemplate = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Signing in</title></head>
<body onload="document.forms[0].submit()">
<noscript><p>JavaScript is off: press Continue to sign in.</p></noscript>
<form method="post" action="{{.URL}}">
<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{- if .RelayState}}
<input type="hidden" name="RelayState" value="{{.RelayState}}">
{{- end}}
<noscript><input type="submit" value="Continue"></noscript>
</form>
</body></html>
`))

// PostFormData is what [PostFormHTML] renders.
type PostFormData struct {
	// URL is the form action.
	URL string
	// Name is the form field: "SAMLRequest" or "SAMLResponse".
	Name string
	// Value is the base64 message.
	Value string
	// RelayState is sent when not empty.
	RelayState string
}

// PostFormHTML renders an auto-submitting HTML form (HTTP-POST binding);
// every value is escaped by html/template.
func PostFormHTML(d PostFormData) ([]byte, error) {
	var b bytes.Buffer
	if err := postFormTemplate.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// PostForm returns an auto-submitting HTML page that posts the request to
// the IdP's HTTP-POST SSO endpoint (HTTP-POST binding). When the SP has a
// SigningKey the request carries an enveloped XML signature. Serve it
// with Content-Type text/html and Cache-Control no-store.
func (r *AuthnRequest) PostForm() ([]byte, error) {
	dest, err := r.ssoEndpoint(BindingHTTPPost)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(dest)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, &ConfigError{Field: "IdP.SSO", Reason: fmt.Sprintf("%q is not an http(s) URL", dest)}
	}
	doc := r.XML(dest)
	if r.sp.cfg.SigningKey != nil {
		if doc, err = r.signXML(doc); err != nil {
			return nil, err
		}
	}
	return PostFormHTML(PostFormData{
		URL:        dest,
		Name:       "SAMLRequest",
		Value:      base64.StdEncoding.EncodeToString(doc),
		RelayState: r.RelayState,
	})
}

// signXML adds an enveloped signature after the Issuer.
func (r *AuthnRequest) signXML(data []byte) ([]byte, error) {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(data); err != nil {
		return nil, err
	}
	root := d.Root()
	sc, err := dsig.NewSigningContext(r.sp.cfg.SigningKey, [][]byte{r.sp.cfg.SigningCert.Raw})
	if err != nil {
		return nil, err
	}
	sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	sig, err := sc.ConstructSignature(root, true)
	if err != nil {
		return nil, fmt.Errorf("saml: AuthnRequest: sign: %w", err)
	}
	root.InsertChildAt(1, sig) // after Issuer
	return d.WriteToBytes()
}
