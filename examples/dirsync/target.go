package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// fileTarget is an ldapsync.Target kept in a JSON file, standing in for
// the service's own directory. Writes go to memory; flush writes the file
// atomically. Run saves the sync state only after the target accepted
// every change, and stateStore below flushes the target first, so the file
// is never behind the state.
type fileTarget struct {
	*ldapsync.MemoryTarget
	path string
}

type targetFile struct {
	Users    map[string]ldapsync.User  `json:"users"`
	Unlinked map[string]ldapsync.User  `json:"unlinked"`
	Groups   map[string]ldapsync.Group `json:"groups"`
}

func openFileTarget(ctx context.Context, path string) (*fileTarget, error) {
	t := &fileTarget{MemoryTarget: ldapsync.NewMemoryTarget(), path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	var f targetFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("target file %s: %w", path, err)
	}
	for _, u := range f.Users {
		if err := t.Upsert(ctx, u); err != nil {
			return nil, err
		}
	}
	for _, u := range f.Unlinked {
		if err := t.Upsert(ctx, u); err != nil {
			return nil, err
		}
		if err := t.Unlink(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	for _, g := range f.Groups {
		if err := t.UpsertGroup(ctx, g); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// flush writes the target to its file: a temporary file in the same
// directory, synced, then renamed over the old one.
func (t *fileTarget) flush(ctx context.Context) error {
	users, err := t.Snapshot(ctx)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(targetFile{Users: users, Unlinked: t.Unlinked(), Groups: t.Groups()}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(t.path), ".dirsync-target-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), t.path)
}

// stateStore saves the target before the state.
type stateStore struct {
	ldapsync.StateStore
	target *fileTarget
}

func (s stateStore) Save(ctx context.Context, st ldapsync.State) error {
	if err := s.target.flush(ctx); err != nil {
		return fmt.Errorf("save target: %w", err)
	}
	return s.StateStore.Save(ctx, st)
}
