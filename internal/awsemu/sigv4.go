package awsemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// parseAuthorization reads
// "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/athena/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(v string) (authHeader, bool) {
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(v, algo) {
		return authHeader{}, false
	}
	var a authHeader
	for _, part := range strings.Split(v[len(algo):], ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authHeader{}, false
		}
		switch k {
		case "Credential":
			scope := strings.Split(val, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return authHeader{}, false
			}
			a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(val, ";")
		case "Signature":
			a.signature = val
		}
	}
	if a.accessKey == "" || a.region == "" || a.service == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return authHeader{}, false
	}
	return a, true
}

// verifySignature recomputes the request's signature with the SDK's own
// signer over exactly the headers the client signed, at the client's
// X-Amz-Date, and compares it with the one sent. Clock skew is deliberately
// not checked: the emulator clock may be frozen far from real time.
func verifySignature(r *http.Request, body []byte, a authHeader, creds Credentials) bool {
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" || payloadHash == "UNSIGNED-PAYLOAD" && !slices.Contains(a.signedHeaders, "x-amz-content-sha256") {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	return verifySigned(r, int64(len(body)), payloadHash, a, creds)
}

// signers recompute signatures: [0] for the services that escape the URI
// path, [1] for S3, which does not. A signer keeps the signing keys it
// derived (four HMACs each), so they are shared rather than made per
// request.
var signers = [2]*v4.Signer{
	v4.NewSigner(),
	v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
}

// verifySigned checks the signature of a request whose payload hash is
// given: S3 clients sign the hash they send in X-Amz-Content-Sha256 (or
// UNSIGNED-PAYLOAD), so an S3 body is not read to check it.
func verifySigned(r *http.Request, contentLength int64, payloadHash string, a authHeader, creds Credentials) bool {
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || signingTime.Format("20060102") != a.date {
		return false
	}
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	check, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), http.NoBody)
	if err != nil {
		return false
	}
	check.Host = r.Host
	check.Header = make(http.Header)
	check.ContentLength = 0
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			check.ContentLength = contentLength
		default:
			if vs, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				check.Header[http.CanonicalHeaderKey(h)] = vs
			} else {
				// A signed header that did not arrive: the signature cannot match.
				return false
			}
		}
	}
	// The signer adds X-Amz-Security-Token from the credentials itself; sign
	// with the token the client sent so a wrong token fails the comparison.
	sessionToken := r.Header.Get("X-Amz-Security-Token")
	signer := signers[0]
	if a.service == "s3" {
		signer = signers[1]
	}
	err = signer.SignHTTP(context.Background(), aws.Credentials{
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: sessionToken,
	}, check, payloadHash, a.service, a.region, signingTime)
	if err != nil {
		return false
	}
	got, ok := parseAuthorization(check.Header.Get("Authorization"))
	if !ok {
		return false
	}
	return hmac.Equal([]byte(got.signature), []byte(a.signature))
}
