package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

type env struct {
	dir  *ldapsynctest.Directory
	opts options
}

// setup starts a directory and writes its config file the way an
// administrator would: no password inside, the password in the environment.
func setup(t *testing.T, edit func(map[string]any)) *env {
	t.Helper()
	dir := ldapsynctest.Start(t)
	tmp := t.TempDir()
	e := &env{dir: dir, opts: options{
		config: filepath.Join(tmp, "ldap.json"),
		state:  filepath.Join(tmp, "state.json"),
		target: filepath.Join(tmp, "target.json"),
	}}
	e.writeConfig(t, edit)
	t.Setenv("GATEHOUSE_LDAP_PASSWORD", string(dir.Config().BindPassword))
	return e
}

// writeConfig (re)writes the config file, edited by edit.
func (e *env) writeConfig(t *testing.T, edit func(map[string]any)) {
	t.Helper()
	raw, err := json.Marshal(e.dir.Config())
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	delete(doc, "bindPassword")
	doc["name"] = "corp"
	doc["acknowledgeDisabledAccounts"] = true
	doc["maxSyncDeletions"] = 1
	if edit != nil {
		edit(doc)
	}
	raw, err = json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(e.opts.config, raw, 0o600))
}

func (e *env) run(t *testing.T, edit func(*options)) (int, string, string, error) {
	t.Helper()
	o := e.opts
	if edit != nil {
		edit(&o)
	}
	var stdout, stderr bytes.Buffer
	code, err := run(context.Background(), &stdout, &stderr, o)
	return code, stdout.String(), stderr.String(), err
}

func readTarget(t *testing.T, path string) targetFile {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f targetFile
	require.NoError(t, json.Unmarshal(data, &f))
	return f
}

func emails(m map[string]ldapsync.User) []string {
	var out []string
	for _, u := range m {
		out = append(out, u.Email)
	}
	return out
}

func TestConnectionTest(t *testing.T) {
	e := setup(t, nil)
	_, err := e.dir.AddUser(ldapsynctest.User{CN: "Alice", Mail: "alice@example.com"})
	require.NoError(t, err)

	code, out, _, err := e.run(t, func(o *options) { o.test = true; o.samples = "alice@example.com" })
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `passed +authentication`, out)
	assert.Regexp(t, `passed +sample-address`, out)
	assert.Contains(t, out, "connection test passed")
	assert.NoFileExists(t, e.opts.state, "a test writes nothing")

	t.Setenv("GATEHOUSE_LDAP_PASSWORD", "wrong")
	code, out, _, err = e.run(t, func(o *options) { o.test = true })
	require.Error(t, err)
	assert.Equal(t, exitTestFail, code)
	assert.Regexp(t, `failed +authentication`, out)
	assert.Contains(t, out, "hint:")
	assert.Contains(t, out, "connection test FAILED")
}

func TestSyncRunsAndResumes(t *testing.T) {
	e := setup(t, nil)
	alice, err := e.dir.AddUser(ldapsynctest.User{CN: "Alice", Mail: "alice@example.com"})
	require.NoError(t, err)
	bob, err := e.dir.AddUser(ldapsynctest.User{CN: "Bob", Mail: "bob@example.com"})
	require.NoError(t, err)
	carol, err := e.dir.AddUser(ldapsynctest.User{CN: "Carol", Mail: "carol@example.com", Disabled: true})
	require.NoError(t, err)

	// A dry run writes nothing.
	code, out, _, err := e.run(t, func(o *options) { o.dryRun = true })
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `Plan \(full read from 127\.0\.0\.1\): 3 changes, 0 withheld, 1 skipped; nothing written`, out)
	assert.Regexp(t, `add +alice@example\.com +CN=Alice`, out)
	assert.NoFileExists(t, e.opts.state)
	assert.NoFileExists(t, e.opts.target)

	// The first run reads everything and writes target and state.
	code, out, stderr, err := e.run(t, func(o *options) { o.verbose = true })
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `Sync \(full\) from 127\.0\.0\.1`, out)
	assert.Regexp(t, `added +3 +alice@example\.com, bob@example\.com, carol@example\.com\n`, out)
	assert.NotEmpty(t, stderr, "progress is shown")
	f := readTarget(t, e.opts.target)
	assert.ElementsMatch(t, []string{"alice@example.com", "bob@example.com", "carol@example.com"}, emails(f.Users))
	assert.True(t, f.Users[carol.ID].Disabled)
	assert.FileExists(t, e.opts.state)

	// A later run (a new process: everything reloaded from the files) is
	// incremental and sees only the change.
	require.NoError(t, e.dir.SetMail(alice.DN, "alice.a@example.com"))
	code, out, _, err = e.run(t, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `Sync \(incremental\)`, out)
	assert.Regexp(t, `updated +1 +alice\.a@example\.com\n`, out)
	assert.Regexp(t, `added +0`, out)
	f = readTarget(t, e.opts.target)
	assert.Equal(t, "alice.a@example.com", f.Users[alice.ID].Email)

	// One removal is allowed: Bob is unlinked, and the file says so.
	require.NoError(t, e.dir.Delete(bob.DN))
	code, out, _, err = e.run(t, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `unlinked +1 +bob@example\.com\n`, out)
	f = readTarget(t, e.opts.target)
	assert.NotContains(t, f.Users, bob.ID)
	assert.Contains(t, f.Unlinked, bob.ID)

	// Two removals exceed the limit: none is applied, exit code 3.
	require.NoError(t, e.dir.Delete(alice.DN))
	require.NoError(t, e.dir.Delete(carol.DN))
	code, out, _, err = e.run(t, nil)
	require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
	assert.Equal(t, exitLimit, code)
	assert.Regexp(t, `withheld +2 +alice\.a@example\.com, carol@example\.com\n`, out)
	f = readTarget(t, e.opts.target)
	assert.Contains(t, f.Users, alice.ID)
	assert.Contains(t, f.Users, carol.ID)

	// The dry run reports the same limit.
	code, out, _, err = e.run(t, func(o *options) { o.dryRun = true; o.jsonOut = true })
	require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
	assert.Equal(t, exitLimit, code)
	var plan ldapsync.Plan
	require.NoError(t, json.Unmarshal([]byte(out), &plan))
	assert.Len(t, plan.Withheld, 2)
}

func TestConfigErrors(t *testing.T) {
	e := setup(t, func(doc map[string]any) { doc["colour"] = "blue" })
	code, _, _, err := e.run(t, nil)
	assert.Equal(t, exitError, code)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "colour"`)

	e.writeConfig(t, func(doc map[string]any) { doc["maxSyncDeletions"] = -1 })
	_, _, _, err = e.run(t, nil)
	require.ErrorIs(t, err, ldapsync.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "maxSyncDeletions")

	e.writeConfig(t, nil)
	_, _, _, err = e.run(t, func(o *options) { o.config = "" })
	require.Error(t, err)
	_, _, _, err = e.run(t, func(o *options) { o.ca = o.config }) // not PEM
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no PEM certificates")

	// A corrupt target file is refused, not overwritten.
	require.NoError(t, os.WriteFile(e.opts.target, []byte("{broken"), 0o600))
	_, _, _, err = e.run(t, nil)
	require.Error(t, err)
	data, _ := os.ReadFile(e.opts.target)
	assert.Equal(t, "{broken", string(data))
}

// A config saved straight from an ldapsync.Config (its password written
// as the redaction marker) loads, taking the password from the
// environment.
func TestConfigSavedAsJSONLoads(t *testing.T) {
	e := setup(t, nil)
	raw, err := json.Marshal(e.dir.Config())
	require.NoError(t, err)
	require.Contains(t, string(raw), `"bindPassword":"[REDACTED]"`)
	require.NoError(t, os.WriteFile(e.opts.config, raw, 0o600))
	code, out, _, err := e.run(t, func(o *options) { o.test = true })
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `passed +authentication`, out)

	// Without the environment's password, the config is refused, naming
	// the field.
	require.NoError(t, os.Unsetenv("GATEHOUSE_LDAP_PASSWORD"))
	_, _, _, err = e.run(t, func(o *options) { o.test = true })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bindPassword")
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-config", "ldap.json", "-test", "-sample", "a@example.com,b@example.com", "-sample", "c@example.com"})
	require.NoError(t, err)
	assert.Equal(t, "ldap.json", o.config)
	assert.True(t, o.test)
	assert.Equal(t, "a@example.com,b@example.com,c@example.com", o.samples, "a repeated -sample adds to the list")
	assert.Equal(t, "dirsync-state.json", o.state)
	_, err = parseFlags([]string{"-no-such-flag"})
	require.Error(t, err)
}

// No line of the report ends in padding, also where a count's list is
// empty.
func TestReportLinesAreTrimmed(t *testing.T) {
	e := setup(t, nil)
	_, err := e.dir.AddUser(ldapsynctest.User{CN: "Alice", Mail: "alice@example.com"})
	require.NoError(t, err)
	code, out, _, err := e.run(t, nil)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Regexp(t, `(?m)^  updated +0$`, out)
	for _, line := range strings.Split(out, "\n") {
		assert.Equal(t, strings.TrimRight(line, " "), line)
	}
}
