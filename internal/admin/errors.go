package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/store"
)

// recordErr turns an error from the key manager into the caller's error:
// a refused field is a 400 naming it, a conflict (a taken name, a revoked
// key, a team still in use) a 409 with the manager's explanation, an
// unknown record notFound, and anything else an internal error whose
// detail only the log sees.
func recordErr(err error, notFound error) error {
	var fe *keys.FieldError
	switch {
	case errors.As(err, &fe):
		param := fe.Field
		if param == "budget_period" {
			param = "budget.period"
		}
		return &apperr.Error{Code: apperr.Invalid, Message: fe.Error(), Param: param, Cause: err}
	case errors.Is(err, store.ErrNotFound):
		return notFound
	case errors.Is(err, keys.ErrRevoked), errors.Is(err, keys.ErrExpired), errors.Is(err, store.ErrConflict):
		return &apperr.Error{Code: codeConflict, Status: http.StatusConflict, Message: err.Error(), Cause: err}
	case errors.Is(err, context.Canceled):
		return apperr.Wrap(apperr.Invalid, "the request was canceled", err)
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return apperr.Wrap(apperr.Internal, errInternal.Message, err)
}

// errInternal stands for "not found" where nothing can be missing: a
// list cannot lack its records.
var errInternal = apperr.New(apperr.Internal, "internal error; see the server log with this request id")

// The 404s. A record the caller may not reach gets the same answer as one
// that does not exist. A name or id that is not well formed is not
// repeated: it may be a key pasted in the wrong place.

func noKey(id string) error {
	if keys.ValidID(id) {
		return apperr.New(apperr.NotFound, "no key "+id)
	}
	return apperr.New(apperr.NotFound, "no key with that id; key ids look like key_ followed by 16 letters and digits")
}

func noTeam(name string) error {
	if keys.CheckName("team", name) == nil {
		return apperr.New(apperr.NotFound, "no team named "+name)
	}
	return apperr.New(apperr.NotFound, "no team with that name")
}

func noUser(name string) error {
	if keys.CheckName("user", name) == nil {
		return apperr.New(apperr.NotFound, "no user named "+name)
	}
	return apperr.New(apperr.NotFound, "no user with that name")
}
