package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// StepStatus is the outcome of one [TestConnection] step.
type StepStatus string

// Step outcomes.
const (
	Passed  StepStatus = "passed"
	Failed  StepStatus = "failed"
	Skipped StepStatus = "skipped"
)

// TestStep is one check of [TestConnection].
type TestStep struct {
	Name   string     `json:"name"` // StepHostname, StepConnectivity, StepCertificate, StepAuthentication, StepSampleAddress
	Host   string     `json:"host"`
	Status StepStatus `json:"status"`
	Detail string     `json:"detail,omitempty"` // what was found
	Hint   string     `json:"hint,omitempty"`   // what an administrator can do about a failure
}

// TestReport is the result of [TestConnection]: the steps in the order they
// ran, primary host first, then the alternate when the primary could not be
// used.
type TestReport struct {
	Steps []TestStep `json:"steps"`
	// Host is the host the authentication and sample steps ran against;
	// "" when no host could be connected to.
	Host string `json:"host,omitempty"`
}

// OK reports whether the host in use passed every step that ran against it.
func (r *TestReport) OK() bool {
	if r.Host == "" {
		return false
	}
	for _, s := range r.Steps {
		if s.Host == r.Host && s.Status == Failed {
			return false
		}
	}
	return true
}

// Step returns the last step with the given name, or nil.
func (r *TestReport) Step(name string) *TestStep {
	for i := len(r.Steps) - 1; i >= 0; i-- {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// TestOptions tune [TestConnectionWith].
type TestOptions struct {
	Resolver *net.Resolver // nil: net.DefaultResolver
	Now      func() time.Time
}

// TestConnection checks a configuration step by step, as an administrator
// does before saving it: the host name resolves, the port accepts a
// connection, the TLS certificate is acceptable under the trust mode, the
// bind account authenticates, and each sample address is found exactly once
// under RootDN. When the primary host fails before authentication, the
// remaining steps run against the alternate host. Nothing is written
// anywhere; cfg need not have been saved or validated.
func TestConnection(ctx context.Context, cfg Config, sampleAddresses ...string) *TestReport {
	return TestConnectionWith(ctx, cfg, TestOptions{}, sampleAddresses...)
}

// TestConnectionWith is [TestConnection] with a resolver and clock.
func TestConnectionWith(ctx context.Context, cfg Config, opts TestOptions, sampleAddresses ...string) *TestReport {
	rep := &TestReport{}
	add := func(name, host string, st StepStatus, detail, hint string) {
		rep.Steps = append(rep.Steps, TestStep{Name: name, Host: host, Status: st, Detail: detail, Hint: hint})
	}
	// Validated as given, before defaults: an unnamed Encryption with a
	// password must be refused, not turned into EncryptionNone.
	if err := cfg.Validate(); err != nil {
		add(StepHostname, cfg.Host, Failed, err.Error(), "Correct the configuration fields named above.")
		skipRest(add, cfg.Host, StepHostname, "the configuration is invalid")
		return rep
	}
	cfg = cfg.WithDefaults()
	hosts := []string{cfg.Host}
	if cfg.AlternateHost != "" && cfg.AlternateHost != cfg.Host {
		hosts = append(hosts, cfg.AlternateHost)
	}
	var sess *session
	for i, h := range hosts {
		host := h
		o := connectOptions{resolve: true, bind: true, now: opts.Now, resolver: opts.Resolver,
			trace: func(step string, st StepStatus, detail string) { add(step, host, st, detail, "") }}
		s, cerr := connectHost(ctx, cfg, host, o)
		if cerr == nil {
			sess = s
			break
		}
		add(cerr.Step, host, Failed, cerr.Err.Error(), hintFor(cfg, cerr))
		last := i == len(hosts)-1
		if cerr.Step == StepAuthentication || last {
			why := "an earlier step failed"
			if !last {
				why = "authentication failed; the alternate host serves the same directory with the same credentials"
			}
			skipRest(add, host, cerr.Step, why)
			if cerr.Step == StepAuthentication {
				rep.Host = host
			}
			return rep
		}
		skipRest(add, host, cerr.Step, "trying the alternate host "+hosts[i+1])
	}
	defer sess.Close()
	rep.Host = sess.host
	if len(sampleAddresses) == 0 {
		add(StepSampleAddress, sess.host, Skipped, "no sample address given", "Give one or two known addresses to check that RootDN covers them.")
		return rep
	}
	for _, a := range sampleAddresses {
		st, detail, hint := lookupSample(ctx, sess, cfg, a)
		add(StepSampleAddress, sess.host, st, detail, hint)
	}
	return rep
}

var stepOrder = []string{StepHostname, StepConnectivity, StepCertificate, StepAuthentication, StepSampleAddress}

func skipRest(add func(name, host string, st StepStatus, detail, hint string), host, failed, why string) {
	after := false
	for _, s := range stepOrder {
		if after {
			add(s, host, Skipped, why, "")
		}
		if s == failed {
			after = true
		}
	}
}

func hintFor(cfg Config, e *ConnectError) string {
	switch e.Step {
	case StepHostname:
		return "Check the host name's spelling and that this service's DNS resolves it; an IP address avoids DNS."
	case StepConnectivity:
		return fmt.Sprintf("Check that the directory listens on port %d (389 LDAP and StartTLS, 636 LDAPS, 3268/3269 Global Catalog) and that firewalls allow this service to reach it.", cfg.port())
	case StepCertificate:
		if errors.Is(e, ErrCertificate) {
			return "The certificate must chain to a trusted CA (add the issuing CA to RootCAs), name this host, and use a key longer than 1024 bits. ModeRelaxed accepts it and still encrypts the traffic."
		}
		return "Check that the port speaks the chosen encryption: LDAPS on 636 (3269), StartTLS on 389 (3268)."
	case StepAuthentication:
		return "Check the bind DN (or user@domain) and the password, and that the account is enabled, not locked out and its password not expired."
	}
	return ""
}

// lookupSample searches RootDN for one address; the filter escapes it.
func lookupSample(ctx context.Context, s *session, cfg Config, address string) (StepStatus, string, string) {
	a := strings.ToLower(strings.TrimSpace(address))
	if _, err := normalizeAddress(a); err != nil {
		return Failed, fmt.Sprintf("%q: %v", address, err), "Enter a complete email address."
	}
	esc := ldap.EscapeFilter(a)
	filter := fmt.Sprintf("(|(mail=%s)(proxyAddresses=smtp:%s))", esc, esc)
	req := ldap.NewSearchRequest(cfg.RootDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 3, 0, false,
		filter, []string{"mail", "proxyAddresses"}, nil)
	res, err := s.conn.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return Failed, fmt.Sprintf("search for %s under %s failed: %v", a, cfg.RootDN, ctxErr(ctx, err)),
			"Check that RootDN exists and the bind account may read it."
	}
	switch n := len(res.Entries); n {
	case 0:
		return Failed, fmt.Sprintf("%s was not found under %s", a, cfg.RootDN),
			"Check that the address is spelled as in the directory and that its object lies under RootDN."
	case 1:
		return Passed, fmt.Sprintf("%s found: %s", a, res.Entries[0].DN), ""
	default:
		dns := make([]string, 0, n)
		for _, e := range res.Entries {
			dns = append(dns, e.DN)
		}
		return Failed, fmt.Sprintf("%s is on %d objects: %s", a, n, strings.Join(dns, "; ")),
			"An address must belong to one object; remove it from all but one."
	}
}
