package budget

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/athenawatch/athenawatch/internal/config"
)

// Sender delivers one alert message to one destination.
type Sender interface {
	Send(ctx context.Context, key string, payload []byte) error
}

// PermanentError is a failure that another attempt would repeat (the
// endpoint refused the message): the delivery is given up.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Env is what senders are built with: where secrets come from, the HTTP
// client of webhooks (nil: one with a 15 s timeout) and the AWS
// configuration of SNS (loaded at the first message).
type Env struct {
	Getenv func(string) string
	HTTP   *http.Client
	AWS    func(context.Context) (aws.Config, error)
	// TLS is the TLS configuration of SMTP's STARTTLS (nil: the system's
	// roots).
	TLS *tls.Config
}

// Senders builds the senders of the configured notifiers, reading their
// secrets from the environment or files. A secret that is configured and
// missing is an error naming the variable or file, never the secret.
func Senders(cfg *config.Config, env Env) (map[string]Sender, error) {
	client := env.HTTP
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	out := map[string]Sender{}
	var errs []error
	var err error
	for _, n := range cfg.Notifiers {
		switch n.Type {
		case "sns":
			out[n.Name] = &snsSender{name: n.Name, topic: n.TopicARN, load: env.AWS}
			continue
		case "email":
			host, _, _ := net.SplitHostPort(n.SMTP)
			e := &emailSender{name: n.Name, addr: n.SMTP, host: host, from: n.From, to: n.To, toUser: n.ToUser, userEmails: cfg.UserEmails, tls: env.TLS}
			if n.UsernameEnv != "" {
				if e.username, err = secret("", n.UsernameEnv, "", getenv); err == nil {
					e.password, err = secret("", n.PasswordEnv, "", getenv)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("notifier %s: login: %w", n.Name, err))
					continue
				}
			}
			out[n.Name] = e
			continue
		}
		target, err := secret(n.URL, n.URLEnv, n.URLFile, getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("notifier %s: url: %w", n.Name, err))
			continue
		}
		sign := ""
		if n.SecretEnv != "" || n.SecretFile != "" {
			if sign, err = secret("", n.SecretEnv, n.SecretFile, getenv); err != nil {
				errs = append(errs, fmt.Errorf("notifier %s: secret: %w", n.Name, err))
				continue
			}
		}
		post := poster{name: n.Name, url: target, client: client}
		switch n.Type {
		case "webhook":
			out[n.Name] = &webhook{poster: post, secret: []byte(sign)}
		case "slack":
			out[n.Name] = &slack{poster: post}
		}
	}
	return out, errors.Join(errs...)
}

// secret is a value given in the configuration, or read from an
// environment variable or a file (surrounding white space dropped).
func secret(value, env, file string, getenv func(string) string) (string, error) {
	switch {
	case value != "":
		return value, nil
	case env != "":
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set", env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", file, errors.Unwrap(err))
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("file %s is empty", file)
		}
		return v, nil
	}
	return "", errors.New("not configured")
}

// poster POSTs JSON to an endpoint whose URL may hold a secret: no error
// it returns names the URL.
type poster struct {
	name   string
	url    string
	client *http.Client
}

func (p poster) post(ctx context.Context, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{fmt.Errorf("notifier %s: bad URL", p.name)}
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "athenawatch")
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("notifier %s: %v", p.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("notifier %s: HTTP %d", p.name, c)
	default:
		return &PermanentError{fmt.Errorf("notifier %s: HTTP %d: the endpoint refused the message", p.name, c)}
	}
}

// webhook POSTs the message as it is, signed.
type webhook struct {
	poster
	secret []byte
}

// Signature headers of the generic webhook.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Athenawatch-Timestamp"
	HeaderSignature      = "X-Athenawatch-Signature"
)

// Sign is the signature of a webhook body sent at ts (Unix seconds):
// "sha256=" and the hex HMAC-SHA256, keyed by the secret, of the
// timestamp, a dot and the body.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *webhook) Send(ctx context.Context, key string, payload []byte) error {
	h := http.Header{}
	h.Set(HeaderIdempotencyKey, key)
	if len(w.secret) > 0 {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign(w.secret, ts, payload))
	}
	return w.post(ctx, payload, h)
}

// slack POSTs a readable message to a Slack incoming webhook.
type slack struct{ poster }

func (s *slack) Send(ctx context.Context, key string, payload []byte) error {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return &PermanentError{fmt.Errorf("notifier %s: alert %s: %v", s.name, key, err)}
	}
	body, err := json.Marshal(map[string]string{"text": SlackText(m)})
	if err != nil {
		return &PermanentError{err}
	}
	return s.post(ctx, body, http.Header{})
}

// slackEscape escapes what Slack reads as markup in text from the store
// (user names, query text): &, < and >.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// PlainText is an alert as plain text, for e-mail and SMS.
func PlainText(m Message) string {
	return messageText(m, func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				return '?'
			}
			return r
		}, s)
	}, false)
}

// SlackText is an alert as a Slack message: who, how much, the top
// queries and a link to the dashboard.
func SlackText(m Message) string { return messageText(m, slackEscape, true) }

// messageText writes an alert as text: esc escapes values from the store,
// markup adds Slack's bold, code and link markup.
func messageText(m Message, esc func(string) string, markup bool) string {
	amount := func(v float64) string {
		if m.Unit == "bytes" {
			return strconv.FormatFloat(v/(1<<30), 'f', 1, 64) + " GiB"
		}
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	}
	var b strings.Builder
	if m.Kind == "digest" {
		b.WriteString(digestText(m, esc))
	} else if markup {
		fmt.Fprintf(&b, "*Athena budget %s*: %s ", esc(m.Budget), esc(m.Scope))
	} else {
		fmt.Fprintf(&b, "Athena budget %s: %s ", esc(m.Budget), esc(m.Scope))
	}
	switch m.Kind {
	case "digest":
	case "forecast":
		fmt.Fprintf(&b, "is heading for %s of %s this %s (%.0f%%; spent %s so far)", amount(m.Forecast), amount(m.Limit), m.Period, 100*m.Ratio, amount(m.Spent))
	case "anomaly":
		fmt.Fprintf(&b, "spent %s today, %.1f× a usual day of %s", amount(m.Today), m.Today/max(m.UsualDay, 1e-12), amount(m.UsualDay))
	default:
		fmt.Fprintf(&b, "spent %s of %s this %s (%.0f%%)", amount(m.Spent), amount(m.Limit), m.Period, 100*m.Ratio)
	}
	if m.Kind != "digest" {
		fmt.Fprintf(&b, ", past the %.0f%% threshold.", 100*m.Threshold)
	}
	if m.Pending > 0 {
		fmt.Fprintf(&b, " %d queries still lack statistics and are not counted yet.", m.Pending)
	}
	if len(m.TopQueries) > 0 {
		b.WriteString("\nTop queries:")
		for _, q := range m.TopQueries {
			text := strings.Join(strings.Fields(q.Text), " ")
			if len(text) > 120 {
				text = strings.ToValidUTF8(text[:120], "") + "…"
			}
			if markup {
				text = strings.ReplaceAll(text, "`", "'")
				fmt.Fprintf(&b, "\n• $%.2f by %s: `%s`", q.CostUSD, esc(q.User), esc(text))
			} else {
				fmt.Fprintf(&b, "\n- $%.2f by %s: %s", q.CostUSD, esc(q.User), esc(text))
			}
		}
	}
	switch {
	case m.DashboardURL == "":
	case markup:
		fmt.Fprintf(&b, "\n<%s|Open in athenawatch>", strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(m.DashboardURL))
	default:
		fmt.Fprintf(&b, "\nDashboard: %s", m.DashboardURL)
	}
	return b.String()
}
