package vault

import "time"

// SetRotateHook lets tests stop RotateMaster between its steps.
func SetRotateHook(v *Vault, f func(step string) error) { v.rotateHook = f }

// SetResolverClock replaces a Resolver's clock.
func SetResolverClock(r *Resolver, now func() time.Time) { r.now = now }
