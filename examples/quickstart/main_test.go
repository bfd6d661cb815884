package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/region"
)

// TestQuickstartBuildsAndRuns builds the program as a user would run it and
// checks what it prints: the verified NameID and the counts of both syncs.
func TestQuickstartBuildsAndRuns(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build the quickstart")
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	msg, err := build.CombinedOutput()
	require.NoError(t, err, string(msg))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Empty(t, stderr.String(), "no noise on stderr")

	out := stdout.String()
	assert.Regexp(t, `Entity ID +https://eu-api\.mimecast\.com/sso/CUK123ABC\n`, out)
	assert.Regexp(t, `2\. IdP response +HTTP-POST form to https://eu-api\.mimecast\.com/login/saml\n`, out)
	assert.Regexp(t, `\n  NameID +alice@example\.com\n`, out, "the verified NameID")
	assert.Regexp(t, `replayed +refused \(saml: replay`, out)
	assert.Regexp(t, `Sync 1 \(full\)[^\n]*\n  Counts +added 6, updated 0, disabled 0, enabled 0, unlinked 0, deleted 0, withheld 0, skipped 1\n`, out)
	assert.Regexp(t, `erin@example\.com \(disabled\)`, out)
	assert.Regexp(t, `Sync 2 \(incremental\)[^\n]*\n  Counts +added 0, updated 1, disabled 0, enabled 0, unlinked 0, deleted 0, withheld 2, skipped 1\n`, out)
	assert.Regexp(t, `Withheld +bob@example\.com, dave@example\.com\n`, out)
	assert.Regexp(t, `Deletion limit +hit: 2 removals planned, 1 allowed`, out)
	assert.Regexp(t, `Signed-in user +alice@example\.com: synced and enabled\n`, out)
}

func TestQuickstartRefusesBadFlags(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	err := run(ctx, &out, options{account: "CUK-1", app: "applications"})
	require.ErrorIs(t, err, region.ErrInvalidAccount)
	err = run(ctx, &out, options{account: "CXX1", app: "applications"})
	require.ErrorIs(t, err, region.ErrUnknownRegion)
	assert.Contains(t, err.Error(), "-region", "the error says how to name the grid")
	err = run(ctx, &out, options{account: "CUK1", grid: "us", app: "applications"})
	require.Error(t, err, "a grid the account code contradicts")
	assert.Contains(t, err.Error(), "account CUK1 is on the eu grid")
	err = run(ctx, &out, options{account: "CUK1", app: "webmail"})
	require.ErrorIs(t, err, region.ErrUnknownApp)
	assert.Empty(t, out.String(), "nothing printed before the flags are known to be good")

	// A real IdP must be reached over https.
	err = run(ctx, &out, options{account: "CUK1", app: "applications", metadataURL: "http://127.0.0.1:1/metadata"})
	require.ErrorIs(t, err, profile.ErrImport)
}

func TestQuickstartOtherGridAndApp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, options{account: "ABC1", grid: "offshore", app: "admin-console"}))
	s := out.String()
	assert.Regexp(t, `Region +Offshore \(jer\)\n`, s)
	assert.Regexp(t, `Service provider for Admin Console\n  Entity ID +https://jer-api\.mimecast\.com/sso/ABC1\n  ACS URL +https://jer-api\.mimecast\.com/login/sso/adcon\n`, s)
	assert.Regexp(t, `2\. IdP response +HTTP-POST form to https://jer-api\.mimecast\.com/login/sso/adcon\n`, s)
	assert.Regexp(t, `\n  NameID +alice@example\.com\n`, s)
}

func TestQuickstartRealDirectoryFlag(t *testing.T) {
	dir := ldapsynctest.Start(t)
	_, err := dir.AddUser(ldapsynctest.User{CN: "Zoe", Mail: "zoe@example.com"})
	require.NoError(t, err)

	// The config file as an administrator writes it: no password inside.
	raw, err := json.Marshal(dir.Config())
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	delete(doc, "bindPassword")
	raw, err = json.Marshal(doc)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ldap.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	t.Setenv("GATEHOUSE_LDAP_PASSWORD", string(dir.Config().BindPassword))

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, options{account: "CUK1", app: "applications", ldapConfig: path}))
	assert.Regexp(t, `Counts +added 1, updated 0, disabled 0, enabled 0, unlinked 0, deleted 0, withheld 0, skipped 1\n`, out.String())
	assert.Regexp(t, `Added +zoe@example\.com\n`, out.String())

	t.Setenv("GATEHOUSE_LDAP_PASSWORD", "wrong")
	err = run(context.Background(), &out, options{account: "CUK1", app: "applications", ldapConfig: path})
	require.Error(t, err)
}
