// Package harness lets the example programs run the test servers of
// saml/samltest, which are built for tests and take a testing.TB, inside an
// ordinary program.
package harness

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TB is a testing.TB for programs: Cleanup functions run when Close is
// called, and Fatal/FailNow end the current call with a panic that Catch
// turns back into an error. Only the methods the test-server packages use
// are meaningful; Log output is discarded.
type TB struct {
	testing.TB // nil; present for the interface's unexported method

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	tempDirs []string
}

// New returns a TB. Call Close when the servers are no longer needed.
func New() *TB { return &TB{} }

// fatal is the panic value of Fatal and FailNow.
type fatal struct{ err error }

// Catch runs f and returns its error, or the error of a Fatal call made
// while it ran.
func Catch(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if ft, ok := r.(fatal); ok {
				err = ft.err
				return
			}
			panic(r)
		}
	}()
	return f()
}

// Close runs the registered cleanups, last first, and removes temporary
// directories.
func (t *TB) Close() {
	t.mu.Lock()
	cs := t.cleanups
	t.cleanups = nil
	dirs := t.tempDirs
	t.tempDirs = nil
	t.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

func (t *TB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *TB) Helper()                   {}
func (t *TB) Name() string              { return "example" }
func (t *TB) Log(args ...any)           {}
func (t *TB) Logf(string, ...any)       {}
func (t *TB) Context() context.Context  { return context.Background() }
func (t *TB) Setenv(key, value string)  { _ = os.Setenv(key, value) }
func (t *TB) Skipped() bool             { return false }
func (t *TB) Skip(args ...any)          { t.Fatal(args...) }
func (t *TB) Skipf(f string, a ...any)  { t.Fatalf(f, a...) }
func (t *TB) SkipNow()                  { t.FailNow() }
func (t *TB) Error(args ...any)         { t.Fail(); t.Fatal(args...) }
func (t *TB) Errorf(f string, a ...any) { t.Fail(); t.Fatalf(f, a...) }

func (t *TB) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

func (t *TB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *TB) FailNow() { t.Fail(); panic(fatal{fmt.Errorf("test server failed")}) }

func (t *TB) Fatal(args ...any) { t.Fail(); panic(fatal{fmt.Errorf("%s", fmt.Sprint(args...))}) }

func (t *TB) Fatalf(format string, args ...any) {
	t.Fail()
	panic(fatal{fmt.Errorf(format, args...)})
}

func (t *TB) TempDir() string {
	d, err := os.MkdirTemp("", "gatehouse-example-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tempDirs = append(t.tempDirs, d)
	return d
}
