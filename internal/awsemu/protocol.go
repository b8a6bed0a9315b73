package awsemu

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// apiError is an error as an AWS service answers it.
type apiError struct {
	Code    string // the error __type / Code
	Message string
	Status  int
	// AthenaErrorCode is InvalidRequestException's extra member.
	AthenaErrorCode string
	// Reason is TooManyRequestsException's extra member.
	Reason string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// invalidRequest is Athena's InvalidRequestException, HTTP 400, with the
// AthenaErrorCode Athena sends for bad input.
func invalidRequest(format string, args ...any) *apiError {
	return &apiError{
		Code: "InvalidRequestException", Message: fmt.Sprintf(format, args...),
		Status: http.StatusBadRequest, AthenaErrorCode: "INVALID_INPUT",
	}
}

// service is one emulated AWS service; adding S3, SQS or CloudTrail means
// adding one of these to Emulator.services.
type service struct {
	eventSource string // CloudTrail eventSource, e.g. athena.amazonaws.com
	protocol    protocol
	ops         map[string]operation
}

// operation is one API action of a service.
type operation struct {
	readOnly bool // CloudTrail readOnly
	handle   func(c *call) (any, error)
}

// authFailure is a reason a call is refused before it reaches its operation.
type authFailure int

const (
	errUnknownKey authFailure = iota
	errBadSignature
	errExpiredToken
)

// protocol is an AWS wire protocol: how the operation is named, and how
// results and errors are written.
type protocol interface {
	operation(r *http.Request, body []byte) (string, *apiError)
	writeResult(w http.ResponseWriter, c *call, result any)
	writeError(w http.ResponseWriter, c *call, err *apiError)
	authError(authFailure) *apiError
	throttled() *apiError
}

// jsonProtocol is awsJson1.1: POST /, X-Amz-Target: <prefix>.<Operation>,
// JSON in and out, errors as {"__type": ..., "Message": ...}.
type jsonProtocol struct {
	targetPrefix string
	ops          map[string]operation
}

func (p jsonProtocol) operation(r *http.Request, body []byte) (string, *apiError) {
	target := r.Header.Get("X-Amz-Target")
	i := strings.LastIndexByte(target, '.')
	if i < 0 || target[:i] != p.targetPrefix {
		return "", &apiError{Code: "UnknownOperationException", Status: http.StatusBadRequest}
	}
	op := target[i+1:]
	if _, known := p.ops[op]; !known {
		return "", &apiError{Code: "UnknownOperationException", Status: http.StatusBadRequest}
	}
	if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
		return "", &apiError{Code: "SerializationException", Message: "Start of structure or map found where not expected.", Status: http.StatusBadRequest}
	}
	return op, nil
}

func (jsonProtocol) writeResult(w http.ResponseWriter, c *call, result any) {
	b, err := json.Marshal(result)
	if err != nil {
		writeJSONError(w, c.requestID, &apiError{Code: "InternalServerException", Message: "internal error", Status: http.StatusInternalServerError})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (jsonProtocol) writeError(w http.ResponseWriter, c *call, e *apiError) {
	writeJSONError(w, c.requestID, e)
}

func writeJSONError(w http.ResponseWriter, requestID string, e *apiError) {
	body := map[string]string{"__type": e.Code}
	if e.Message != "" {
		body["Message"] = e.Message
	}
	if e.AthenaErrorCode != "" {
		body["AthenaErrorCode"] = e.AthenaErrorCode
	}
	if e.Reason != "" {
		body["Reason"] = e.Reason
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if requestID != "" {
		w.Header().Set("X-Amzn-Requestid", requestID)
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

func (jsonProtocol) authError(f authFailure) *apiError {
	switch f {
	case errBadSignature:
		return &apiError{Code: "InvalidSignatureException", Status: http.StatusBadRequest,
			Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	case errExpiredToken:
		return &apiError{Code: "ExpiredTokenException", Status: http.StatusBadRequest,
			Message: "The security token included in the request is expired"}
	}
	return &apiError{Code: "UnrecognizedClientException", Status: http.StatusBadRequest,
		Message: "The security token included in the request is invalid."}
}

// throttled is what Athena answers past its API rate quota: ThrottlingException
// "Rate exceeded", HTTP 400, as public issue threads about Athena's API
// quotas quote it.
func (jsonProtocol) throttled() *apiError {
	return &apiError{Code: "ThrottlingException", Message: "Rate exceeded", Status: http.StatusBadRequest}
}

// queryProtocol is the AWS query protocol (STS): form-encoded POST with
// Action and Version, XML responses wrapped in <ActionResponse>.
type queryProtocol struct {
	version, xmlns string
	ops            map[string]operation
}

func (p queryProtocol) operation(r *http.Request, body []byte) (string, *apiError) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", &apiError{Code: "MalformedQueryString", Message: "request body is not a form", Status: http.StatusBadRequest}
	}
	action := form.Get("Action")
	if _, ok := p.ops[action]; !ok {
		return "", &apiError{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", action, form.Get("Version")), Status: http.StatusBadRequest}
	}
	if form.Get("Version") != p.version {
		return "", &apiError{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", action, form.Get("Version")), Status: http.StatusBadRequest}
	}
	return action, nil
}

func (p queryProtocol) writeResult(w http.ResponseWriter, c *call, result any) {
	inner, err := xml.Marshal(result)
	if err != nil {
		p.writeError(w, c, &apiError{Code: "InternalFailure", Message: "internal error", Status: http.StatusInternalServerError})
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%sResponse xmlns=%q>\n  ", c.op, p.xmlns)
	b.Write(inner)
	fmt.Fprintf(&b, "\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</%sResponse>\n", c.requestID, c.op)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (p queryProtocol) writeError(w http.ResponseWriter, c *call, e *apiError) {
	kind := "Sender"
	if e.Status >= 500 {
		kind = "Receiver"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<ErrorResponse xmlns=%q>\n  <Error>\n    <Type>%s</Type>\n    <Code>", p.xmlns, kind)
	_ = xml.EscapeText(&b, []byte(e.Code))
	b.WriteString("</Code>\n    <Message>")
	_ = xml.EscapeText(&b, []byte(e.Message))
	fmt.Fprintf(&b, "</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n", c.requestID)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.WriteHeader(e.Status)
	_, _ = w.Write(b.Bytes())
}

func (queryProtocol) authError(f authFailure) *apiError {
	switch f {
	case errBadSignature:
		return &apiError{Code: "SignatureDoesNotMatch", Status: http.StatusForbidden,
			Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	case errExpiredToken:
		return &apiError{Code: "ExpiredToken", Status: http.StatusBadRequest,
			Message: "The security token included in the request is expired"}
	}
	return &apiError{Code: "InvalidClientTokenId", Status: http.StatusForbidden,
		Message: "The security token included in the request is invalid."}
}

func (queryProtocol) throttled() *apiError {
	return &apiError{Code: "Throttling", Message: "Rate exceeded", Status: http.StatusBadRequest}
}

// lowerCamelJSON re-keys a JSON request the way CloudTrail writes
// requestParameters: the API's member names with a lower-case first letter.
func lowerCamelJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[lowerFirst(k)] = lowerCamelJSON(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = lowerCamelJSON(val)
		}
		return out
	}
	return v
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}
