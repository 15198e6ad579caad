package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Request limits. They bound the work one request can cause; Warden in
// front may set tighter ones of its own.
const (
	maxBodyBytes = 1 << 20
	maxInstances = 1000
)

// modelInfo is the body of GET /model: what the model is and how well it
// did on the rows it never saw in training.
type modelInfo struct {
	Algorithm string    `json:"algorithm"`
	Classes   []string  `json:"classes"`
	Features  []string  `json:"features"`
	Accuracy  float64   `json:"accuracy"`
	TrainRows int       `json:"train_rows"`
	TestRows  int       `json:"test_rows"`
	TrainedAt time.Time `json:"trained_at"`
}

// predictRequest is the body of POST /predict: one instance in Features or
// several in Instances, never both. A nil slice means the field was absent
// or null; an empty one means it was sent empty.
type predictRequest struct {
	Features  []number   `json:"features"`
	Instances [][]number `json:"instances"`
}

// number is a float64 that accepts only JSON number literals, so "5.1" as
// a string or null is refused instead of turning into 0. A literal too large
// for float64 decodes as ±Inf and is then refused, with its position, by
// the finite-value check.
type number float64

// errNotNumber is what number.UnmarshalJSON returns for any other token.
var errNotNumber = errors.New("features must be JSON numbers")

// UnmarshalJSON implements json.Unmarshaler. The decoder has already
// checked b is one JSON value, and ParseFloat accepts none but numbers
// (JSON has no NaN or Infinity literals), so a string, null, bool, array
// or object fails here.
func (n *number) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return errNotNumber
	}
	*n = number(v)
	return nil
}

// prediction is one entry of the POST /predict answer.
type prediction struct {
	Species       string             `json:"species"`
	Probabilities map[string]float64 `json:"probabilities"`
}

// predictResponse is the body of a successful POST /predict.
type predictResponse struct {
	Predictions []prediction `json:"predictions"`
}

// errorBody is the shape of every error this server returns; it is the
// OpenAI shape Warden also uses, so a client behind Warden parses one
// format whichever side refused it.
type errorBody struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

// requestError is a refusal with its status and a message for the caller.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// usage is appended to messages about the body's shape, so the caller
// sees what a good request looks like.
const usage = `; send {"features":[sepal_length, sepal_width, petal_length, petal_width]} or {"instances":[[...], ...]}`

// decodePredict reads and checks a POST /predict body. It returns at least
// one and at most maxInstances rows, each of len(featureNames) finite
// numbers, or a *requestError.
func decodePredict(r io.Reader) ([][]float64, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req predictRequest
	if err := dec.Decode(&req); err != nil {
		return nil, decodeError(err)
	}
	// A second value, or garbage, after the object means the client sent
	// something other than what it thinks; refuse rather than guess.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if tooLarge(err) {
			return nil, decodeError(err)
		}
		return nil, badRequest("request body has data after the JSON object")
	}
	var rows [][]number
	name := "instances"
	switch {
	case req.Features != nil && req.Instances != nil:
		return nil, badRequest("send features or instances, not both")
	case req.Features != nil:
		rows, name = [][]number{req.Features}, "features"
	case req.Instances != nil:
		rows = req.Instances
	default:
		return nil, badRequest("request has no features" + usage)
	}
	if len(rows) == 0 {
		return nil, badRequest("instances is empty" + usage)
	}
	if len(rows) > maxInstances {
		return nil, badRequest("instances has %d rows; at most %d are allowed per request, split the batch", len(rows), maxInstances)
	}
	out := make([][]float64, len(rows))
	for i, row := range rows {
		at := name
		if name == "instances" {
			at = fmt.Sprintf("instances[%d]", i)
		}
		if len(row) != len(featureNames) {
			return nil, badRequest("%s has %d values; want %d: %v", at, len(row), len(featureNames), featureNames)
		}
		out[i] = make([]float64, len(row))
		for j, v := range row {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, badRequest("%s[%d] (%s) is not a finite number", at, j, featureNames[j])
			}
			out[i][j] = f
		}
	}
	return out, nil
}

// tooLarge reports whether err came from the body limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// decodeError turns a decoding failure into a refusal that says what was
// wrong with the body.
func decodeError(err error) *requestError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case tooLarge(err):
		return &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body is larger than %d bytes; split the batch", maxBodyBytes)}
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty" + usage)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body is truncated JSON" + usage)
	case errors.As(err, &syn):
		return badRequest("request body is not valid JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return badRequest("request field %q has the wrong type"+usage, typ.Field)
	case errors.Is(err, errNotNumber):
		return badRequest("%v%s", errNotNumber, usage)
	}
	// The rest (an unknown field, mostly) carry a message about the body's
	// structure, never its values, so it is safe and useful to pass on.
	return badRequest("request body is not a predict request: %v", err)
}

// server answers the model's HTTP API.
type server struct {
	model *model
	info  modelInfo
	log   *slog.Logger
	mux   *http.ServeMux
}

// newServer returns the handler for m, described by info.
func newServer(m *model, info modelInfo, log *slog.Logger) *server {
	s := &server{model: m, info: info, log: log, mux: http.NewServeMux()}
	s.mux.Handle("/predict", only(http.MethodPost, s.predict))
	s.mux.Handle("/model", only(http.MethodGet, s.describe))
	s.mux.Handle("/healthz", only(http.MethodGet, s.healthz))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &requestError{status: http.StatusNotFound,
			msg: "no route " + r.Method + " " + r.URL.Path + "; the routes are POST /predict, GET /model and GET /healthz"})
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// only refuses other methods with a JSON 405; ServeMux's own 405 is plain
// text, which a JSON client would fail to parse.
func only(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, &requestError{status: http.StatusMethodNotAllowed,
				msg: "method " + r.Method + " is not allowed on " + r.URL.Path + "; use " + method})
			return
		}
		h(w, r)
	})
}

func (s *server) predict(w http.ResponseWriter, r *http.Request) {
	rows, err := decodePredict(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	resp := predictResponse{Predictions: make([]prediction, len(rows))}
	for i, x := range rows {
		c, p, err := s.model.predict(x)
		if err != nil {
			s.refuse(w, r, badRequest("instance %d: %v", i, err))
			return
		}
		probs := make(map[string]float64, len(p))
		for k, v := range p {
			probs[s.model.classes[k]] = v
		}
		resp.Predictions[i] = prediction{Species: s.model.classes[c], Probabilities: probs}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) describe(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.info)
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// refuse logs a refused request and answers it. Only the reason is logged,
// never the body: behind Warden, the audit trail is Warden's.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	if !errors.As(err, &re) {
		re = &requestError{status: http.StatusInternalServerError, msg: "internal error"}
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request refused",
		slog.String("path", r.URL.Path), slog.Int("status", re.status), slog.String("reason", re.msg))
	writeError(w, re)
}

func writeError(w http.ResponseWriter, e *requestError) {
	var b errorBody
	b.Error.Message = e.msg
	writeJSON(w, e.status, b)
}

// writeJSON writes v as the response. Every value passed here marshals
// (no channels, no NaN: predict refuses inputs that would give one).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
