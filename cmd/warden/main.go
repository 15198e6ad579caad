// Command warden is a secure gateway and key vault for AI/ML APIs. All of
// its behaviour lives in internal/cli; see `warden --help`.
package main

import "github.com/wardenproject/warden/internal/cli"

func main() { cli.Main() }
