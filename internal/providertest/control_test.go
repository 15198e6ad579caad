package providertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestControlEndpoints(t *testing.T) {
	s := NewControlled(Options{Key: "k"})
	defer s.Close()
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(s.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/__fake/fail", `{"path_prefix":"/v1/chat","n":1,"fault":{"status":429,"retry_after":"3"}}`); got != http.StatusNoContent {
		t.Fatalf("fail: %d", got)
	}
	if got := post("/__fake/fail", `{not json`); got != http.StatusBadRequest {
		t.Fatalf("bad fault: %d", got)
	}
	chat := func() int {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, want := range []int{429, 200} {
		if got := chat(); got != want {
			t.Fatalf("call %d: %d, want %d", i, got, want)
		}
	}
	resp, err := http.Get(s.URL + "/__fake/requests")
	if err != nil {
		t.Fatal(err)
	}
	var recs []controlRequest
	json.NewDecoder(resp.Body).Decode(&recs)
	resp.Body.Close()
	if len(recs) != 2 || recs[0].Path != "/v1/chat/completions" {
		t.Fatalf("requests = %+v", recs)
	}
	if body, ok := recs[0].Body.(map[string]any); !ok || body["model"] != "m" {
		t.Fatalf("body not decoded as JSON: %#v", recs[0].Body)
	}
	if got := post("/__fake/reset", ""); got != http.StatusNoContent {
		t.Fatalf("reset: %d", got)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests after reset", n)
	}
}
