package saml

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// XML namespaces and protocol identifiers of SAML metadata.
const (
	// NamespaceMetadata is the SAML 2.0 metadata namespace.
	NamespaceMetadata = "urn:oasis:names:tc:SAML:2.0:metadata"
	// NamespaceXMLDSig is the XML Signature namespace.
	NamespaceXMLDSig = "http://www.w3.org/2000/09/xmldsig#"
	// ProtocolSAML20 is the protocolSupportEnumeration value of SAML 2.0.
	ProtocolSAML20 = "urn:oasis:names:tc:SAML:2.0:protocol"

	// BindingHTTPRedirect is the SAML 2.0 HTTP-Redirect binding.
	BindingHTTPRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	// BindingHTTPPost is the SAML 2.0 HTTP-POST binding.
	BindingHTTPPost = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// Limits applied to metadata unless changed with [WithMaxBytes] and
// [WithMaxTokens].
const (
	// DefaultMaxMetadataBytes is the largest metadata document accepted by
	// default (8 MiB). Federation aggregates need [WithMaxBytes].
	DefaultMaxMetadataBytes = 8 << 20
	// DefaultMaxMetadataTokens is the largest number of XML tokens (start
	// and end tags, text runs, comments, processing instructions) accepted
	// by default: far more than real IdP metadata or a few thousand
	// aggregated entities hold, while bounding the tree built from a
	// document of many tiny elements.
	DefaultMaxMetadataTokens = 1 << 19
	// MaxMetadataDepth is the deepest element nesting accepted.
	MaxMetadataDepth = 64
	// DefaultMaxMetadataRedirects is the number of HTTP redirects
	// [FetchMetadata] follows by default.
	DefaultMaxMetadataRedirects = 5

	maxEntityIDLength = 1024
)

// MetadataOption changes how [ParseMetadata], [FetchMetadata] and
// [MetadataCache] read identity-provider metadata.
type MetadataOption func(*metadataConfig)

type metadataConfig struct {
	entityID     string
	signers      []*x509.Certificate
	signerSet    bool
	now          func() time.Time
	maxBytes     int64
	maxTokens    int
	insecureHTTP bool
	client       *http.Client
	maxRedirects int
	insecureSHA1 bool
	problems     []string
}

func newMetadataConfig(opts []MetadataOption) (*metadataConfig, error) {
	c := &metadataConfig{
		now:          time.Now,
		maxBytes:     DefaultMaxMetadataBytes,
		maxTokens:    DefaultMaxMetadataTokens,
		maxRedirects: DefaultMaxMetadataRedirects,
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.signerSet && len(c.signers) == 0 {
		c.problems = append(c.problems, "WithMetadataSigner: no certificate given")
	}
	if len(c.problems) > 0 {
		return nil, fmt.Errorf("saml: metadata options: %s", strings.Join(c.problems, "; "))
	}
	return c, nil
}

// WithEntityID picks the identity provider with this entity ID. In an
// EntitiesDescriptor aggregate it selects the entity; for a single
// EntityDescriptor it pins the expected entity ID, and any other ID is
// refused with [ErrEntityNotFound].
func WithEntityID(entityID string) MetadataOption {
	return func(c *metadataConfig) { c.entityID = entityID }
}

// WithMetadataSigner requires the metadata to carry an enveloped XML
// signature made with one of certs. The signature must cover the selected
// EntityDescriptor, either directly or through the signed EntitiesDescriptor
// aggregate that holds it. A missing or invalid signature is [ErrSignature].
func WithMetadataSigner(certs ...*x509.Certificate) MetadataOption {
	return func(c *metadataConfig) {
		c.signerSet = true
		for i, cert := range certs {
			if cert == nil {
				c.problems = append(c.problems, fmt.Sprintf("WithMetadataSigner: certificate %d is nil", i+1))
				continue
			}
			c.signers = append(c.signers, cert)
		}
	}
}

// WithInsecureSHA1 accepts metadata signatures made with RSA-SHA1 or
// ECDSA-SHA1 and references digested with SHA-1 (see [WithMetadataSigner]).
// SHA-1 is refused by default with [ErrSignature], as [ServiceProvider.Verify] refuses it
// unless [Config.InsecureAllowSHA1] is set: SHA-1 collisions are practical,
// so such a signature no longer proves who wrote the document. Use it only
// for an identity provider that cannot sign with SHA-256 or better.
func WithInsecureSHA1() MetadataOption {
	return func(c *metadataConfig) { c.insecureSHA1 = true }
}

// WithNow sets the clock used to check validUntil and the metadata signer
// certificate. The default is [time.Now].
func WithNow(now func() time.Time) MetadataOption {
	return func(c *metadataConfig) {
		if now == nil {
			c.problems = append(c.problems, "WithNow: nil function")
			return
		}
		c.now = now
	}
}

// WithMaxBytes sets the largest document accepted, in bytes, when parsing
// and when fetching. The default is [DefaultMaxMetadataBytes].
func WithMaxBytes(n int64) MetadataOption {
	return func(c *metadataConfig) {
		if n <= 0 {
			c.problems = append(c.problems, fmt.Sprintf("WithMaxBytes: %d is not positive", n))
			return
		}
		c.maxBytes = n
	}
}

// WithMaxTokens sets the largest number of XML tokens accepted. The default
// is [DefaultMaxMetadataTokens].
func WithMaxTokens(n int) MetadataOption {
	return func(c *metadataConfig) {
		if n <= 0 {
			c.problems = append(c.problems, fmt.Sprintf("WithMaxTokens: %d is not positive", n))
			return
		}
		c.maxTokens = n
	}
}

// WithInsecureHTTP lets [FetchMetadata] use plain http URLs. Metadata
// fetched without TLS can be replaced by anyone on the network path; use it
// only for tests or together with [WithMetadataSigner].
func WithInsecureHTTP() MetadataOption {
	return func(c *metadataConfig) { c.insecureHTTP = true }
}

// WithHTTPClient sets the HTTP client [FetchMetadata] uses (transport, TLS
// roots, proxy). Its redirect policy is wrapped so the redirect limit and
// the https-only rule still apply.
func WithHTTPClient(client *http.Client) MetadataOption {
	return func(c *metadataConfig) {
		if client == nil {
			c.problems = append(c.problems, "WithHTTPClient: nil client")
			return
		}
		c.client = client
	}
}

// WithMaxRedirects sets how many redirects [FetchMetadata] follows (0: none).
// The default is [DefaultMaxMetadataRedirects].
func WithMaxRedirects(n int) MetadataOption {
	return func(c *metadataConfig) {
		if n < 0 {
			c.problems = append(c.problems, fmt.Sprintf("WithMaxRedirects: %d is negative", n))
			return
		}
		c.maxRedirects = n
	}
}

// ParseMetadata reads SAML 2.0 identity-provider metadata: a single
// EntityDescriptor, or an EntitiesDescriptor aggregate from which one
// identity provider is picked (see [WithEntityID]).
//
// The document is checked before it is parsed: at most [WithMaxBytes] bytes
// and [WithMaxTokens] tokens, [MaxMetadataDepth] levels, UTF-8 only (a byte
// order mark is accepted), no DOCTYPE or entity declarations. Elements are
// matched by namespace, never by prefix. WS-Federation RoleDescriptors and
// their keys are ignored; every signing certificate of the IDPSSODescriptor
// is kept, expired ones included (see [IdPMetadata.ExpiredCerts]).
//
// Errors wrap [ErrMalformed], [ErrSignature], [ErrMetadataExpired],
// [ErrEntityNotFound] or [ErrEntityAmbiguous]; most are a [*MetadataError]
// naming the element at fault.
func ParseMetadata(data []byte, opts ...MetadataOption) (*IdPMetadata, error) {
	cfg, err := newMetadataConfig(opts)
	if err != nil {
		return nil, err
	}
	return parseMetadata(data, cfg)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func parseMetadata(data []byte, cfg *metadataConfig) (*IdPMetadata, error) {
	if int64(len(data)) > cfg.maxBytes {
		return nil, &MetadataError{Element: "document", Reason: fmt.Sprintf("%d bytes is more than the limit of %d", len(data), cfg.maxBytes), Err: ErrMalformed}
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &MetadataError{Element: "document", Reason: "empty", Err: ErrMalformed}
	}
	// Without a signer no tree is needed: a single EntityDescriptor has its
	// facts gathered by the scan itself.
	sc, err := scanDocument(data, cfg.maxTokens, !cfg.signerSet)
	if err != nil {
		return nil, err
	}
	ent, err := pickEntity(sc, cfg.entityID)
	if err != nil {
		return nil, err
	}

	now := cfg.now()
	var facts *entityFacts
	var chain []validity
	switch {
	case !cfg.signerSet && !sc.aggregate:
		facts = sc.facts
	case !cfg.signerSet:
		// Read only the picked EntityDescriptor, with the namespace
		// declarations in scope where it stands.
		if facts, err = collectEntity(data[ent.start:ent.end], ent.ns); err != nil {
			return nil, err
		}
		chain = ent.chain
	case !sc.aggregate:
		// A single signed EntityDescriptor: small enough to build whole,
		// and read from the element as verified.
		root, err := buildDOM(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if root, err = verifySigned(root, "EntityDescriptor", cfg.signers, now, cfg.insecureSHA1); err != nil {
			return nil, err
		}
		facts = treeFacts(root)
	case sc.rootSigned:
		// The aggregate is signed as a whole: verify all of it, then use the
		// entity as signed. The common profile is verified child by child;
		// anything else on the full tree with goxmldsig.
		el, elChain, err := verifyAggregateStreamed(data, sc, ent, cfg.signers, now, cfg.insecureSHA1)
		if err != nil {
			if !errors.Is(err, errC14nFallback) {
				return nil, err
			}
			root, err := buildDOM(bytes.NewReader(data))
			if err != nil {
				return nil, err
			}
			if root, err = verifySigned(root, "EntitiesDescriptor", cfg.signers, now, cfg.insecureSHA1); err != nil {
				return nil, err
			}
			if el, elChain, err = findEntity(root, ent.entityID); err != nil {
				return nil, err
			}
		}
		facts, chain = treeFacts(el), elChain
	default:
		// An entity of an unsigned aggregate must carry its own signature:
		// build only the picked EntityDescriptor and verify it.
		if !ent.signed {
			return nil, &MetadataError{Element: ent.path, Reason: "neither the aggregate nor the entity is signed", Err: ErrSignature}
		}
		frag, err := buildFragment(data[ent.start:ent.end], ent.ns)
		if err != nil {
			return nil, err
		}
		if frag, err = verifySigned(frag, ent.path, cfg.signers, now, cfg.insecureSHA1); err != nil {
			return nil, err
		}
		facts, chain = treeFacts(frag), ent.chain
	}
	md, err := idpFromFacts(facts, ent.path, chain, now)
	if err != nil {
		return nil, err
	}
	if md.EntityID != ent.entityID {
		// The entity read is not the one the scan picked; never expected.
		return nil, &MetadataError{Element: ent.path, Attr: "entityID", Reason: "differs between scan and tree", Err: ErrMalformed}
	}
	return md, nil
}

// validity holds the validUntil and cacheDuration attributes of one element.
type validity struct {
	element       string
	validUntil    string
	cacheDuration string
}

// scanEntity is an EntityDescriptor found while scanning the document.
type scanEntity struct {
	index    int
	entityID string
	path     string
	start    int64
	end      int64
	idp      bool
	signed   bool
	ns       []xml.Attr
	chain    []validity
}

type scanResult struct {
	aggregate  bool
	rootSigned bool
	entities   []scanEntity

	// Where the root start tag is, and the root's children (aggregates
	// only), for verifying a signed aggregate without building its tree.
	rootStart, rootStartEnd int64
	rootKids                []rootKid
	rootUnsupported         bool // root content the streamed check does not handle

	// facts of a single EntityDescriptor, when gathered during the scan
	facts *entityFacts
}

type scanFrame struct {
	kind   int
	entity int
	chain  []validity
	path   string
	inNS   []xml.Attr // cached in-scope declarations (entities frames only)
	nEnts  int        // EntitiesDescriptor children so far
	nEnt   int        // EntityDescriptor children so far
	kid    int        // index in scanResult.rootKids, or -1
}

const (
	frameOther = iota
	frameEntities
	frameEntity
)

func unsupportedCharset(charset string, _ io.Reader) (io.Reader, error) {
	return nil, fmt.Errorf("encoding %q is not supported (UTF-8 only)", charset)
}

// scanMetadata walks the whole document once with a streaming decoder. It
// enforces the limits, refuses DTDs, checks the root element and records
// where each EntityDescriptor starts and ends, so that only the one picked
// has to be read again.
func scanMetadata(data []byte, maxTokens int) (*scanResult, error) {
	return scanDocument(data, maxTokens, false)
}

// scanDocument is [scanMetadata]; with collect, a document that is a single
// EntityDescriptor also has its facts gathered on the way (in
// scanResult.facts), so it need not be read twice.
func scanDocument(data []byte, maxTokens int, collect bool) (*scanResult, error) {
	r := newNSReader(data, nil)
	res := &scanResult{}
	var c *factsCollector
	stack := make([]scanFrame, 0, 16)
	tokens := 0
	rootDone := false
	for {
		off := r.offset()
		tok, space, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		tokens++
		if tokens > maxTokens {
			return nil, &MetadataError{Element: "document", Reason: fmt.Sprintf("more than %d XML tokens", maxTokens), Err: ErrMalformed}
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, &MetadataError{Element: "document", Reason: "DOCTYPE and ENTITY declarations are not accepted", Err: ErrMalformed}
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, &MetadataError{Element: "document", Reason: "text outside the root element", Err: ErrMalformed}
			}
			if len(stack) == 1 && res.aggregate {
				if len(bytes.TrimSpace(t)) > 0 {
					res.rootUnsupported = true
				} else {
					res.rootKids = append(res.rootKids, rootKid{isText: true, text: string(t), entity: -1})
				}
			}
			if c != nil && len(stack) > 0 {
				c.charData(t)
			}
		case xml.ProcInst:
			if len(stack) == 1 {
				res.rootUnsupported = true
			}
			if c != nil && len(stack) > 0 {
				c.procInst()
			}
		case xml.StartElement:
			if rootDone {
				return nil, &MetadataError{Element: "document", Reason: "content after the root element", Err: ErrMalformed}
			}
			if len(stack) >= MaxMetadataDepth {
				return nil, &MetadataError{Element: t.Name.Local, Reason: fmt.Sprintf("nested more than %d levels deep", MaxMetadataDepth), Err: ErrMalformed}
			}
			f := scanFrame{entity: -1, kid: -1}
			if len(stack) == 0 {
				if space != NamespaceMetadata || (t.Name.Local != "EntityDescriptor" && t.Name.Local != "EntitiesDescriptor") {
					return nil, &MetadataError{Element: qname(xml.Name{Space: space, Local: t.Name.Local}), Reason: "root element must be md:EntityDescriptor or md:EntitiesDescriptor", Err: ErrMalformed}
				}
				if collect && t.Name.Local == "EntityDescriptor" {
					c = newFactsCollector()
				}
			}
			if c != nil {
				c.start(t, space)
			}
			var parent *scanFrame
			if len(stack) > 0 {
				parent = &stack[len(stack)-1]
			}
			isMDEl := space == NamespaceMetadata
			isDSEl := space == NamespaceXMLDSig
			switch {
			case parent == nil && isMDEl && t.Name.Local == "EntitiesDescriptor":
				res.aggregate = true
				f.kind = frameEntities
				f.path = "EntitiesDescriptor"
				f.chain = []validity{validityOf(t, f.path)}
			case parent != nil && parent.kind == frameEntities && isMDEl && t.Name.Local == "EntitiesDescriptor":
				parent.nEnts++
				f.kind = frameEntities
				f.path = fmt.Sprintf("%s/EntitiesDescriptor[%d]", parent.path, parent.nEnts)
				f.chain = append(append([]validity(nil), parent.chain...), validityOf(t, f.path))
			case isMDEl && t.Name.Local == "EntityDescriptor" && (parent == nil || parent.kind == frameEntities):
				f.kind = frameEntity
				f.entity = len(res.entities)
				e := scanEntity{index: len(res.entities), entityID: attrValue(t, "entityID"), start: off, end: -1}
				if parent == nil {
					e.path = "EntityDescriptor"
				} else {
					parent.nEnt++
					e.path = fmt.Sprintf("%s/EntityDescriptor[%d]", parent.path, parent.nEnt)
					e.chain = parent.chain
					if parent.inNS == nil {
						parent.inNS = r.scopeOfParent()
					}
					e.ns = parent.inNS
				}
				res.entities = append(res.entities, e)
			case parent != nil && parent.kind == frameEntity && isMDEl && t.Name.Local == "IDPSSODescriptor":
				res.entities[parent.entity].idp = true
			case parent != nil && parent.kind == frameEntity && isDSEl && t.Name.Local == "Signature":
				res.entities[parent.entity].signed = true
			case len(stack) == 1 && parent.kind == frameEntities && isDSEl && t.Name.Local == "Signature":
				res.rootSigned = true
			}
			if len(stack) == 0 {
				res.rootStart, res.rootStartEnd = off, r.offset()
			}
			if len(stack) == 1 && res.aggregate {
				f.kid = len(res.rootKids)
				res.rootKids = append(res.rootKids, rootKid{start: off, entity: f.entity,
					signature: isDSEl && t.Name.Local == "Signature"})
			}
			stack = append(stack, f)
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.entity >= 0 {
				res.entities[f.entity].end = r.offset()
			}
			if f.kid >= 0 {
				res.rootKids[f.kid].end = r.offset()
			}
			if c != nil {
				c.end()
			}
			if len(stack) == 0 {
				rootDone = true
			}
		}
	}
	if !rootDone {
		return nil, &MetadataError{Element: "document", Reason: "no root element", Err: ErrMalformed}
	}
	if c != nil {
		res.facts = &c.f
	}
	return res, nil
}

func syntaxError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return &MetadataError{Element: "document", Reason: fmt.Sprintf("not well-formed XML (line %d): %s", se.Line, se.Msg), Err: ErrMalformed}
	}
	return &MetadataError{Element: "document", Reason: "not well-formed XML: " + err.Error(), Err: ErrMalformed, Cause: err}
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

// attrValue returns the unprefixed attribute local of a start tag; where
// it is repeated, the last value, as the tree keeps it.
func attrValue(t xml.StartElement, local string) string {
	return lastAttr(t.Attr, local)
}

func validityOf(t xml.StartElement, path string) validity {
	return validity{element: path, validUntil: attrValue(t, "validUntil"), cacheDuration: attrValue(t, "cacheDuration")}
}

// pickEntity selects the EntityDescriptor to use.
func pickEntity(sc *scanResult, want string) (*scanEntity, error) {
	var idps []string
	for i := range sc.entities {
		if sc.entities[i].idp {
			idps = append(idps, sc.entities[i].entityID)
		}
	}
	if want != "" {
		var found *scanEntity
		n := 0
		for i := range sc.entities {
			if sc.entities[i].entityID == want {
				found = &sc.entities[i]
				n++
			}
		}
		switch {
		case n == 0:
			return nil, &EntitySelectionError{Wanted: want, IdPs: idps, Err: ErrEntityNotFound}
		case n > 1:
			return nil, &EntitySelectionError{Wanted: want, IdPs: idps, Duplicate: true, Err: ErrEntityAmbiguous}
		case !found.idp:
			return nil, &MetadataError{Element: found.path, Reason: fmt.Sprintf("entity %q has no IDPSSODescriptor", want), Err: ErrMalformed}
		}
		return found, nil
	}
	if !sc.aggregate {
		return &sc.entities[0], nil
	}
	switch len(idps) {
	case 0:
		return nil, &EntitySelectionError{Err: ErrEntityNotFound}
	case 1:
		for i := range sc.entities {
			if sc.entities[i].idp {
				return &sc.entities[i], nil
			}
		}
	}
	return nil, &EntitySelectionError{IdPs: idps, Err: ErrEntityAmbiguous}
}

func readSettings() etree.ReadSettings {
	return etree.ReadSettings{MaxDepth: MaxMetadataDepth + 2}
}

func buildDOM(r io.Reader) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = readSettings()
	if _, err := doc.ReadFrom(r); err != nil {
		return nil, &MetadataError{Element: "document", Reason: "not well-formed XML: " + err.Error(), Err: ErrMalformed, Cause: err}
	}
	root := doc.Root()
	if root == nil {
		return nil, &MetadataError{Element: "document", Reason: "no root element", Err: ErrMalformed}
	}
	return root, nil
}

// buildFragment parses one EntityDescriptor cut out of an aggregate. The
// namespace declarations in scope at its position are declared on a wrapper
// and copied onto the element unless it declares the prefix itself, so the
// element reads (and canonicalizes) as it did in place.
func buildFragment(frag []byte, ns []xml.Attr) (*etree.Element, error) {
	var open bytes.Buffer
	open.WriteString("<scope")
	for _, a := range ns {
		open.WriteByte(' ')
		if a.Name.Space == "xmlns" {
			open.WriteString("xmlns:" + a.Name.Local)
		} else {
			open.WriteString("xmlns")
		}
		open.WriteString(`="`)
		_ = xml.EscapeText(&open, []byte(a.Value))
		open.WriteByte('"')
	}
	open.WriteByte('>')
	wrapper, err := buildDOM(io.MultiReader(&open, bytes.NewReader(frag), strings.NewReader("</scope>")))
	if err != nil {
		return nil, err
	}
	children := wrapper.ChildElements()
	if len(children) != 1 {
		return nil, &MetadataError{Element: "EntityDescriptor", Reason: "could not be isolated", Err: ErrMalformed}
	}
	el := children[0]
	for _, a := range wrapper.Attr {
		if el.SelectAttr(a.FullKey()) == nil {
			el.CreateAttr(a.FullKey(), a.Value)
		}
	}
	wrapper.RemoveChild(el)
	return el, nil
}

// verifySigned checks the enveloped signature of el against the pinned
// certificates and returns the element as signed. SHA-1 signature and
// digest methods are refused unless allowSHA1.
func verifySigned(el *etree.Element, path string, certs []*x509.Certificate, now time.Time, allowSHA1 bool) (*etree.Element, error) {
	hasSig := false
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == NamespaceXMLDSig {
			hasSig = true
			break
		}
	}
	if !hasSig {
		return nil, &MetadataError{Element: path, Reason: "not signed", Err: ErrSignature}
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: certs})
	vc.Clock = dsig.NewFakeClockAt(now)
	if !allowSHA1 {
		if err := refuseSHA1Signature(el, path, vc.IdAttribute); err != nil {
			return nil, err
		}
	}
	signed, err := vc.Validate(el)
	if err != nil {
		return nil, &MetadataError{Element: path + "/Signature", Reason: "signature check failed: " + err.Error(), Err: ErrSignature, Cause: err}
	}
	return signed, nil
}

// refuseSHA1Signature looks at the signature goxmldsig will check for el
// (the first ds:Signature, in the order goxmldsig searches, with a
// Reference to el) and refuses it when its SignatureMethod or any of its
// DigestMethods is SHA-1. goxmldsig accepts SHA-1 and cannot be told not
// to, so the algorithms are read here first.
func refuseSHA1Signature(el *etree.Element, path, idAttribute string) error {
	id := ""
	if a := el.SelectAttr(idAttribute); a != nil {
		id = a.Value
	}
	var refused error
	err := etreeutils.NSFindIterate(el, NamespaceXMLDSig, "Signature", func(ctx etreeutils.NSContext, sigEl *etree.Element) error {
		si, err := etreeutils.NSFindOneChildCtx(ctx, sigEl, NamespaceXMLDSig, "SignedInfo")
		if err != nil || si == nil {
			return nil // goxmldsig refuses it
		}
		siCtx, err := ctx.SubContext(si)
		if err != nil {
			return err
		}
		var digests []string
		matches := false
		err = etreeutils.NSFindChildrenIterateCtx(siCtx, si, NamespaceXMLDSig, "Reference", func(ctx etreeutils.NSContext, ref *etree.Element) error {
			if uri := ref.SelectAttrValue("URI", ""); uri == "" || uri[1:] == id {
				matches = true
			}
			dm, err := etreeutils.NSFindOneChildCtx(ctx, ref, NamespaceXMLDSig, "DigestMethod")
			if err == nil && dm != nil {
				digests = append(digests, dm.SelectAttrValue("Algorithm", ""))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !matches {
			return nil
		}
		if sm, err := etreeutils.NSFindOneChildCtx(siCtx, si, NamespaceXMLDSig, "SignatureMethod"); err == nil && sm != nil {
			if alg := sm.SelectAttrValue("Algorithm", ""); sha1SignatureMethods[alg] {
				refused = &MetadataError{Element: path + "/Signature/SignedInfo/SignatureMethod", Attr: "Algorithm",
					Reason: alg + " uses SHA-1, refused unless WithInsecureSHA1 is given", Err: ErrSignature}
				return etreeutils.ErrTraversalHalted
			}
		}
		for _, alg := range digests {
			if alg == digestSHA1 {
				refused = &MetadataError{Element: path + "/Signature/SignedInfo/Reference/DigestMethod", Attr: "Algorithm",
					Reason: alg + " is SHA-1, refused unless WithInsecureSHA1 is given", Err: ErrSignature}
				return etreeutils.ErrTraversalHalted
			}
		}
		return etreeutils.ErrTraversalHalted
	})
	if refused != nil {
		return refused
	}
	if err != nil && !errors.Is(err, etreeutils.ErrTraversalHalted) {
		return &MetadataError{Element: path + "/Signature", Reason: "signature check failed: " + err.Error(), Err: ErrSignature, Cause: err}
	}
	return nil
}

// findEntity finds the EntityDescriptor with entityID in a verified
// aggregate, following only EntitiesDescriptor nesting.
func findEntity(root *etree.Element, entityID string) (*etree.Element, []validity, error) {
	var found *etree.Element
	var foundChain []validity
	n := 0
	var walk func(el *etree.Element, path string, chain []validity)
	walk = func(el *etree.Element, path string, chain []validity) {
		chain = append(chain[:len(chain):len(chain)], validityEl(el, path))
		nEnts := 0
		for _, c := range el.ChildElements() {
			if elementNS(c) != NamespaceMetadata {
				continue
			}
			switch c.Tag {
			case "EntitiesDescriptor":
				nEnts++
				walk(c, fmt.Sprintf("%s/EntitiesDescriptor[%d]", path, nEnts), chain)
			case "EntityDescriptor":
				if attr(c, "entityID") == entityID {
					found, foundChain = c, chain
					n++
				}
			}
		}
	}
	walk(root, "EntitiesDescriptor", nil)
	if n != 1 {
		return nil, nil, &EntitySelectionError{Wanted: entityID, Duplicate: n > 1, Err: ErrEntityNotFound}
	}
	return found, foundChain, nil
}

func validityEl(el *etree.Element, path string) validity {
	return validity{element: path, validUntil: attr(el, "validUntil"), cacheDuration: attr(el, "cacheDuration")}
}

// attr returns the value of an attribute without namespace prefix.
func attr(el *etree.Element, key string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value
		}
	}
	return ""
}

func mdChildren(el *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && elementNS(c) == NamespaceMetadata {
			out = append(out, c)
		}
	}
	return out
}

func dsChildren(el *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && elementNS(c) == NamespaceXMLDSig {
			out = append(out, c)
		}
	}
	return out
}

// extractIdP reads the identity-provider facts from an EntityDescriptor.
// entPath names the element in errors.
func extractIdP(ent *etree.Element, entPath string, chain []validity, now time.Time) (*IdPMetadata, error) {
	return idpFromFacts(treeFacts(ent), entPath, chain, now)
}

// idpFromFacts checks what was read from an EntityDescriptor and turns it
// into [IdPMetadata]. entPath names the element in errors; chain holds the
// validity of the EntitiesDescriptor elements around it.
func idpFromFacts(f *entityFacts, entPath string, chain []validity, now time.Time) (*IdPMetadata, error) {
	if !f.isEntity {
		return nil, &MetadataError{Element: f.tag, Reason: "not an md:EntityDescriptor", Err: ErrMalformed}
	}
	md := &IdPMetadata{EntityID: f.entityID}
	switch {
	case strings.TrimSpace(md.EntityID) == "":
		return nil, &MetadataError{Element: entPath, Attr: "entityID", Reason: "missing or empty", Err: ErrMalformed}
	case len(md.EntityID) > maxEntityIDLength:
		return nil, &MetadataError{Element: entPath, Attr: "entityID", Reason: fmt.Sprintf("longer than %d characters", maxEntityIDLength), Err: ErrMalformed}
	}

	idp := f.idp
	if idp == nil {
		reason := "no IDPSSODescriptor"
		if f.nIdPs > 0 {
			reason = "no IDPSSODescriptor supports " + ProtocolSAML20
		} else if f.hasSP {
			reason = "no IDPSSODescriptor (this is service-provider metadata)"
		}
		return nil, &MetadataError{Element: entPath, Reason: reason, Err: ErrMalformed}
	}
	idpPath := entPath + "/IDPSSODescriptor"

	all := make([]validity, 0, len(chain)+2)
	all = append(append(all, chain...),
		validity{element: entPath, validUntil: f.validity.validUntil, cacheDuration: f.validity.cacheDuration},
		validity{element: idpPath, validUntil: idp.validity.validUntil, cacheDuration: idp.validity.cacheDuration})
	if err := applyValidity(md, all, now); err != nil {
		return nil, err
	}
	md.WantAuthnRequestsSigned = parseBool(idp.wantSigned)

	for i, kd := range idp.keys {
		switch kd.use {
		case "", "signing":
		case "encryption":
			continue
		default:
			return nil, &MetadataError{Element: fmt.Sprintf("%s/KeyDescriptor[%d]", idpPath, i+1), Attr: "use", Reason: fmt.Sprintf("%q is neither signing nor encryption", kd.use), Err: ErrMalformed}
		}
		for _, c := range kd.certs {
			err := c.err
			if err == nil && containsDER(md.SigningCerts, c.der) {
				continue
			}
			var cert *x509.Certificate
			if err == nil {
				cert, err = parseDER(c.der)
			}
			if err != nil {
				return nil, &MetadataError{Element: fmt.Sprintf("%s/KeyDescriptor[%d]/KeyInfo/X509Data/X509Certificate[%d]", idpPath, i+1, c.index), Reason: err.Error(), Err: ErrMalformed, Cause: err}
			}
			md.SigningCerts = append(md.SigningCerts, cert)
		}
	}
	if len(md.SigningCerts) == 0 {
		return nil, &MetadataError{Element: idpPath, Reason: `no signing certificate (KeyDescriptor with use="signing" or no use, holding ds:X509Certificate)`, Err: ErrMalformed}
	}

	var err error
	if md.SSO, err = endpoints(idp.sso, "SingleSignOnService", idpPath); err != nil {
		return nil, err
	}
	if len(md.SSO) == 0 {
		return nil, &MetadataError{Element: idpPath, Reason: "no SingleSignOnService endpoint", Err: ErrMalformed}
	}
	if md.SLO, err = endpoints(idp.slo, "SingleLogoutService", idpPath); err != nil {
		return nil, err
	}
	for _, text := range idp.nameIDFormats {
		f := strings.TrimSpace(text)
		if f != "" && !slices.Contains(md.NameIDFormats, f) {
			md.NameIDFormats = append(md.NameIDFormats, f)
		}
	}
	return md, nil
}

func supportsSAML20(enum string) bool {
	for _, p := range strings.Fields(enum) {
		if p == ProtocolSAML20 {
			return true
		}
	}
	return false
}

func parseBool(s string) bool {
	s = strings.TrimSpace(s)
	return s == "true" || s == "1"
}

func applyValidity(md *IdPMetadata, all []validity, now time.Time) error {
	var expiredAt string
	for _, v := range all {
		if v.validUntil != "" {
			t, err := parseDateTime(v.validUntil)
			if err != nil {
				return &MetadataError{Element: v.element, Attr: "validUntil", Reason: err.Error(), Err: ErrMalformed, Cause: err}
			}
			if md.ValidUntil.IsZero() || t.Before(md.ValidUntil) {
				md.ValidUntil = t.UTC()
				expiredAt = v.element
			}
		}
		if v.cacheDuration != "" {
			d, err := parseDuration(v.cacheDuration)
			if err != nil {
				return &MetadataError{Element: v.element, Attr: "cacheDuration", Reason: err.Error(), Err: ErrMalformed, Cause: err}
			}
			if md.CacheDuration == 0 || d < md.CacheDuration {
				md.CacheDuration = d
			}
		}
	}
	if !md.ValidUntil.IsZero() && !now.Before(md.ValidUntil) {
		return &MetadataError{Element: expiredAt, Attr: "validUntil",
			Reason: fmt.Sprintf("expired at %s (now %s)", md.ValidUntil.Format(time.RFC3339), now.UTC().Format(time.RFC3339)),
			Err:    ErrMetadataExpired}
	}
	return nil
}

// endpoints checks the endpoints read from the elements named tag.
func endpoints(raw []Endpoint, tag, idpPath string) ([]Endpoint, error) {
	var out []Endpoint
	for i, e := range raw {
		p := fmt.Sprintf("%s/%s[%d]", idpPath, tag, i+1)
		ep := Endpoint{Binding: strings.TrimSpace(e.Binding), Location: strings.TrimSpace(e.Location)}
		if ep.Binding == "" {
			return nil, &MetadataError{Element: p, Attr: "Binding", Reason: "missing or empty", Err: ErrMalformed}
		}
		if ep.Location == "" {
			return nil, &MetadataError{Element: p, Attr: "Location", Reason: "missing or empty", Err: ErrMalformed}
		}
		u, err := url.Parse(ep.Location)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &MetadataError{Element: p, Attr: "Location", Reason: fmt.Sprintf("%q is not an absolute http(s) URL", ep.Location), Err: ErrMalformed}
		}
		if !slices.Contains(out, ep) {
			out = append(out, ep)
		}
	}
	return out, nil
}

// containsDER reports whether certs holds the certificate encoded as der.
func containsDER(certs []*x509.Certificate, der []byte) bool {
	for _, have := range certs {
		if bytes.Equal(have.Raw, der) {
			return true
		}
	}
	return false
}

// parseCertText decodes base64 certificate text, ignoring any whitespace
// and line breaks within it.
func parseCertText(s string) (*x509.Certificate, error) {
	der, err := decodeCert(appendClean(nil, s))
	if err != nil {
		return nil, err
	}
	return parseDER(der)
}

// parseDateTime parses an xs:dateTime; without a zone it is taken as UTC.
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an xs:dateTime", s)
}

// parseDuration parses an ISO 8601 / xs:duration value such as "PT1H",
// "P7D", "P1Y2M3DT4H5M6.5S" or "P2W". Years count as 365 days and months as
// 30 days. Only the seconds may have a fraction; negative durations are
// refused.
func parseDuration(s string) (time.Duration, error) {
	orig := s
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration: %s", orig, why)
	}
	if strings.HasPrefix(s, "-") {
		return bad("negative")
	}
	if !strings.HasPrefix(s, "P") {
		return bad("must start with P")
	}
	s = s[1:]
	if s == "" {
		return bad("no components")
	}
	const day = 24 * time.Hour
	dateUnits := []struct {
		c byte
		d time.Duration
	}{{'Y', 365 * day}, {'M', 30 * day}, {'W', 7 * day}, {'D', day}}
	timeUnits := []struct {
		c byte
		d time.Duration
	}{{'H', time.Hour}, {'M', time.Minute}, {'S', time.Second}}

	var total time.Duration
	add := func(v time.Duration) bool {
		if v < 0 || total > (1<<63-1)-v {
			return false
		}
		total += v
		return true
	}
	// number reads digits (and for seconds a fraction) up to a unit letter.
	number := func(s string) (whole int64, frac string, unit byte, rest string, ok bool) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 18 {
			return 0, "", 0, "", false
		}
		whole, _ = strconv.ParseInt(s[:i], 10, 64)
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				return 0, "", 0, "", false
			}
			frac = s[i+1 : j]
			i = j
		}
		if i >= len(s) {
			return 0, "", 0, "", false
		}
		return whole, frac, s[i], s[i+1:], true
	}
	scale := func(n int64, unit time.Duration) (time.Duration, bool) {
		if n != 0 && int64(unit) > (1<<63-1)/n {
			return 0, false
		}
		return time.Duration(n) * unit, true
	}

	datePart, timePart, hasT := strings.Cut(s, "T")
	components := 0
	next := 0
	for datePart != "" {
		n, frac, unit, rest, ok := number(datePart)
		if !ok || frac != "" {
			return bad("malformed date component")
		}
		k := next
		for k < len(dateUnits) && dateUnits[k].c != unit {
			k++
		}
		if k == len(dateUnits) {
			return bad(fmt.Sprintf("unexpected %q", unit))
		}
		v, ok := scale(n, dateUnits[k].d)
		if !ok || !add(v) {
			return bad("too large")
		}
		components++
		next = k + 1
		datePart = rest
	}
	if hasT {
		if timePart == "" {
			return bad("T without a time component")
		}
		next = 0
		for timePart != "" {
			n, frac, unit, rest, ok := number(timePart)
			if !ok {
				return bad("malformed time component")
			}
			k := next
			for k < len(timeUnits) && timeUnits[k].c != unit {
				k++
			}
			if k == len(timeUnits) {
				return bad(fmt.Sprintf("unexpected %q", unit))
			}
			if frac != "" && (unit != 'S' || rest != "") {
				return bad("only seconds may have a fraction")
			}
			v, ok := scale(n, timeUnits[k].d)
			if !ok || !add(v) {
				return bad("too large")
			}
			if frac != "" {
				if len(frac) > 9 {
					frac = frac[:9]
				}
				ns, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
				if !add(time.Duration(ns)) {
					return bad("too large")
				}
			}
			components++
			next = k + 1
			timePart = rest
		}
	}
	if components == 0 {
		return bad("no components")
	}
	return total, nil
}
