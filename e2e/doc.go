// Package e2e holds end-to-end tests: Warden started as `warden serve`
// in front of the fake provider, called by the official SDKs (OpenAI and
// Anthropic for Node, OpenAI for Go), with canary keys searched for in
// every output afterwards.
package e2e
