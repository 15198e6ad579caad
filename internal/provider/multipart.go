package provider

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"

	"github.com/wardenproject/warden/internal/apperr"
)

// rewriteMultipart returns a multipart/form-data body (a transcription
// upload) with its "model" field set to model, keeping the boundary so
// that the caller's Content-Type stays right. Every other part keeps its
// headers and its exact content; the framing around them is written
// afresh.
//
// A form with two "model" fields is refused: form parsers disagree on which
// one counts, so the gateway could authorise one model while the provider
// runs the other. A form without one gets it added.
func rewriteMultipart(body []byte, contentType, model string) ([]byte, error) {
	invalid := func(msg string) error {
		return &apperr.Error{Code: apperr.Invalid, Message: msg}
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, invalid("this request must be sent as multipart/form-data with a boundary")
	}
	var out bytes.Buffer
	out.Grow(len(body) + len(model))
	mw := multipart.NewWriter(&out)
	if err := mw.SetBoundary(params["boundary"]); err != nil {
		return nil, invalid("the multipart boundary is not valid (RFC 2046: 1 to 70 characters from a limited set)")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	parts, models := 0, 0
	for {
		// NextRawPart, unlike NextPart, leaves Content-Transfer-Encoding
		// alone, so each part's bytes are copied as the caller sent them.
		p, err := mr.NextRawPart()
		if err == io.EOF {
			// Only a bare io.EOF is the closing delimiter; the reader wraps
			// io.EOF in another error when the body ends without one.
			break
		}
		if err != nil {
			return nil, invalid("the multipart body is malformed")
		}
		parts++
		pw, err := mw.CreatePart(p.Header)
		if err != nil {
			return nil, invalid("the multipart body is malformed")
		}
		if p.FormName() == "model" {
			if models++; models > 1 {
				return nil, &apperr.Error{Code: apperr.Invalid, Message: "the form has more than one model field", Param: "model"}
			}
			_, err = io.WriteString(pw, model)
		} else {
			_, err = io.Copy(pw, p)
		}
		if err != nil {
			return nil, invalid("the multipart body is malformed")
		}
	}
	if parts == 0 {
		return nil, invalid("the multipart body has no parts")
	}
	if models == 0 {
		if err := mw.WriteField("model", model); err != nil {
			return nil, invalid("the multipart body is malformed")
		}
	}
	if err := mw.Close(); err != nil {
		return nil, invalid("the multipart body is malformed")
	}
	return out.Bytes(), nil
}
