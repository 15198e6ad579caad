package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// routes maps each endpoint the fake serves. Anything else gets the
// provider's 404.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	openAIRoutes := map[string]func(*exchange){
		"POST /chat/completions":     (*exchange).chatCompletions,
		"POST /completions":          (*exchange).completions,
		"POST /embeddings":           (*exchange).embeddings,
		"POST /responses":            (*exchange).responses,
		"POST /images/generations":   (*exchange).imageGenerations,
		"POST /audio/speech":         (*exchange).speech,
		"POST /audio/transcriptions": (*exchange).transcription,
		"POST /audio/translations":   (*exchange).transcription,
		"POST /moderations":          (*exchange).moderations,
		"GET /models":                (*exchange).listModels,
		"GET /models/{id}":           (*exchange).getModel,
	}
	for pattern, fn := range openAIRoutes {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" /v1"+path, route(fn))
		// Azure OpenAI's v1 API has the same paths under /openai/v1.
		mux.Handle(method+" /openai/v1"+path, route(fn))
		if method == http.MethodPost {
			mux.Handle(method+" /openai/deployments/{deployment}"+path, route(azureDeployment(fn)))
		}
	}
	mux.Handle("GET /images/{name}", route((*exchange).imageFile))

	mux.Handle("POST /v1/messages", route((*exchange).messages))
	mux.Handle("POST /v1/messages/count_tokens", route((*exchange).countTokens))

	mux.Handle("POST /v1beta/models/{action}", route((*exchange).gemini))
	mux.Handle("POST /v1/models/{action}", route((*exchange).gemini))

	mux.Handle("POST /models/{model...}", route((*exchange).huggingFace))

	mux.Handle("/", route((*exchange).notFound))
	return mux
}

// azureDeployment requires the api-version query parameter that Azure's
// deployment routes demand; without it Azure answers 404.
func azureDeployment(fn func(*exchange)) func(*exchange) {
	return func(x *exchange) {
		if x.r.URL.Query().Get("api-version") == "" {
			x.fail(http.StatusNotFound, "404", "Resource not found")
			return
		}
		fn(x)
	}
}

// decode parses the JSON request body into v, answering 400 when it is not
// valid JSON.
func (x *exchange) decode(v any) bool {
	if err := json.Unmarshal(x.body, v); err != nil {
		msg := "We could not parse the JSON body of your request. The API expects a JSON payload."
		if x.prov == anthropic {
			msg = "There was an error parsing the body of your request: invalid JSON."
		}
		x.badRequest(msg)
		return false
	}
	return true
}

// model returns the request's model, falling back to the Azure deployment
// name (Azure takes the model from the URL); it answers 400 when there is
// none.
func (x *exchange) model(m string) (string, bool) {
	if m == "" {
		m = x.r.PathValue("deployment")
	}
	if m == "" {
		x.badRequest("you must provide a model parameter")
		return "", false
	}
	return m, true
}

// reply is the text the fake answers model with.
func (x *exchange) reply(model, lastUser string) string {
	if x.h.opts.Reply != nil {
		return x.h.opts.Reply(model, lastUser)
	}
	return ReplyText(model, x.h.opts.Chunks)
}

func (x *exchange) pieces(text string) []string {
	return split(text, x.h.opts.Chunks)
}

// cached is the number of prompt tokens reported as served from cache.
func (x *exchange) cached(prompt int) int {
	return max(0, min(x.h.opts.CachedTokens, prompt))
}

func (x *exchange) created() int64 {
	return x.rec.Time.Unix()
}

func (x *exchange) id(prefix string) string {
	return fmt.Sprintf("%s%06d", prefix, x.seq)
}

// usage applies the usage faults to a usage object: nil (omitted) for
// NoUsage, numbers turned into strings for BadUsage.
func (x *exchange) usage(v any) any {
	switch {
	case x.fault.NoUsage:
		return nil
	case x.fault.BadUsage:
		return badUsage(v)
	}
	return v
}

func badUsage(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic("providertest: encoding usage: " + err.Error())
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m any
	if err := d.Decode(&m); err != nil {
		panic("providertest: decoding usage: " + err.Error())
	}
	return stringify(m)
}

func stringify(v any) any {
	switch t := v.(type) {
	case json.Number:
		return t.String()
	case map[string]any:
		for k, e := range t {
			t[k] = stringify(e)
		}
	case []any:
		for i, e := range t {
			t[i] = stringify(e)
		}
	}
	return v
}

// jsonNull is an explicit null for fields the real APIs send as null.
var jsonNull = json.RawMessage("null")
