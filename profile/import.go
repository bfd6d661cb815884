package profile

import (
	"context"

	"github.com/gatehouse-id/gatehouse/saml"
)

// Import fetches the identity provider's metadata from MetadataURL with
// [saml.FetchMetadata] (https only unless opts include
// saml.WithInsecureHTTP; bound to ctx) and fills the profile from it as
// [Profile.ImportMetadata] does. On any error the profile is unchanged and
// the error is an [*ImportError] wrapping [ErrImport] and the saml error,
// or a [*FieldError] when MetadataURL is empty.
func (p *Profile) Import(ctx context.Context, opts ...saml.MetadataOption) error {
	if p.MetadataURL == "" {
		return fieldErr("metadataURL", "required to import metadata")
	}
	md, err := saml.FetchMetadata(ctx, p.MetadataURL, opts...)
	if err != nil {
		return &ImportError{URL: redact(p.MetadataURL), Err: err}
	}
	p.apply(md)
	return nil
}

// ImportMetadata reads identity-provider metadata with [saml.ParseMetadata]
// (opts such as saml.WithEntityID pick one IdP from an aggregate) and fills
// the profile from it:
//
//   - IssuerURL: the IdP's entity ID;
//   - LoginURL: its single sign-on endpoint (HTTP-Redirect binding
//     preferred, then HTTP-POST);
//   - LogoutURL: its single logout endpoint, when it publishes one (a
//     preset logout URL, such as JumpCloud's, is kept otherwise);
//   - IdPCertificates: every signing certificate, PEM encoded, so a
//     certificate rollover in progress keeps working.
//
// Nothing else changes. On error the profile is unchanged and the error is
// an [*ImportError] wrapping [ErrImport] and the saml error (for example
// saml.ErrMalformed or saml.ErrMetadataExpired).
func (p *Profile) ImportMetadata(data []byte, opts ...saml.MetadataOption) error {
	md, err := saml.ParseMetadata(data, opts...)
	if err != nil {
		return &ImportError{Err: err}
	}
	p.apply(md)
	return nil
}

// apply copies what the profile keeps from md.
func (p *Profile) apply(md *saml.IdPMetadata) {
	p.IssuerURL = md.EntityID
	if loc := pickEndpoint(md.SSO); loc != "" {
		p.LoginURL = loc
	}
	if loc := pickEndpoint(md.SLO); loc != "" {
		p.LogoutURL = loc
	}
	if len(md.SigningCerts) > 0 {
		p.IdPCertificates = EncodeCertificates(md.SigningCerts)
	}
}

// pickEndpoint returns the location of the HTTP-Redirect endpoint, else
// the HTTP-POST one, else "".
func pickEndpoint(eps []saml.Endpoint) string {
	for _, binding := range []string{saml.BindingHTTPRedirect, saml.BindingHTTPPost} {
		for _, ep := range eps {
			if ep.Binding == binding && ep.Location != "" {
				return ep.Location
			}
		}
	}
	return ""
}
