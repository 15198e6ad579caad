// Package store holds what every storage backend shares: the sentinel errors
// that consumers match with errors.Is. The storage interfaces themselves are
// declared by the packages that consume them (vault.Store, ...), and the
// backends (store/sqlite, later store/postgres) satisfy them.
package store

import "errors"

var (
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write collides with an existing record.
	ErrConflict = errors.New("conflict")
)
