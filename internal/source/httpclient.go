package source

import (
	"net"
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// HTTPClient is the HTTP client of a source's AWS clients: connecting and
// waiting for an answer's headers are bounded, so an endpoint that
// accepts a connection and never answers cannot hang a run; conns
// connections per host are kept for reuse. Sources also bound each call
// with a context deadline.
func HTTPClient(conns int) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = 10 * time.Second
			tr.ResponseHeaderTimeout = time.Minute
			tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, conns)
			// Bodies are read by a decompressor in 4 KiB steps: with the
			// default 4 KiB buffer each step is a system call.
			tr.ReadBufferSize = 64 << 10
		})
}
