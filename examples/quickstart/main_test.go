package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/region"
)

func TestRunResolvesAccount(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, "cuk123abc", ""))
	s := out.String()
	assert.Contains(t, s, "Account CUK123ABC")
	assert.Regexp(t, `Region +Europe \(eu\)`, s)
	assert.Regexp(t, `Entity ID +https://eu-api\.mimecast\.com/sso/CUK123ABC\n`, s)
	assert.Regexp(t, `Legacy entity ID +eu-api\.mimecast\.com\.CUK123ABC\n`, s)
	assert.Regexp(t, `ACS URL, Admin Console +https://eu-api\.mimecast\.com/login/sso/adcon\n`, s)
}

func TestRunWithRegionFlag(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, "ABC1", "offshore"))
	assert.Contains(t, out.String(), "https://jer-api.mimecast.com/sso/ABC1")
}

func TestRunRejectsBadAccount(t *testing.T) {
	var out bytes.Buffer
	err := run(&out, "CUK-1", "")
	require.ErrorIs(t, err, region.ErrInvalidAccount)
	err = run(&out, "CXX1", "")
	require.ErrorIs(t, err, region.ErrUnknownRegion)
	err = run(&out, "CUK1", "mars")
	require.ErrorIs(t, err, region.ErrUnknownRegion)
}
