package budget

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// smtpSink is a local SMTP server for tests: STARTTLS with a certificate
// of its own, AUTH PLAIN, and the messages it accepted. The first `busy`
// connections are answered 421 (try later).
type smtpSink struct {
	ln     net.Listener
	tls    *tls.Config
	client *tls.Config // trusts the sink's certificate

	mu    sync.Mutex
	busy  int
	mails []sunkMail
	plain int // sessions that sent mail without TLS
}

type sunkMail struct {
	from string
	to   []string
	data string
	user string
}

func newSMTPSink(t *testing.T, busy int) *smtpSink {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln, busy: busy,
		tls:    &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		client: &tls.Config{RootCAs: roots}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	s.mu.Lock()
	if s.busy > 0 {
		s.busy--
		s.mu.Unlock()
		c.Write([]byte("421 sink busy, try later\r\n"))
		return
	}
	s.mu.Unlock()
	r, w := bufio.NewReader(c), c
	say := func(line string) { w.Write([]byte(line + "\r\n")) }
	say("220 sink ESMTP")
	var m sunkMail
	secure := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			if secure {
				say("250-sink\r\n250 AUTH PLAIN")
			} else {
				say("250-sink\r\n250 STARTTLS")
			}
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, r, w, secure = tc, bufio.NewReader(tc), tc, true
		case "AUTH":
			m.user = line
			say("235 ok")
		case "MAIL":
			m.from = line
			say("250 ok")
		case "RCPT":
			m.to = append(m.to, strings.TrimSuffix(strings.TrimPrefix(line[strings.Index(line, ":")+1:], "<"), ">"))
			say("250 ok")
		case "DATA":
			say("354 go")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(l)
			}
			m.data = data.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			if !secure {
				s.plain++
			}
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 no")
		}
	}
}

func TestEmailNotifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sink := newSMTPSink(t, 1)
	f := newFixture(t, `
user_emails: {alice: "Alice <alice@example.com>"}
notifiers:
  - {name: mail, type: email, smtp: "`+sink.ln.Addr().String()+`", from: "athenawatch@example.com", to: ["finops@example.com"], to_user: true,
     username_env: SMTP_USER, password_env: SMTP_PASSWORD}
budgets: [{name: user-month, scope: {user: "*"}, limit_usd: 10, notify: [mail]}]
`)
	at := alertingQueries(f)
	e := &Evaluator{Src: f.st, Rules: f.rules, Prices: pricesOf(f)}
	alerts, err := e.Alerts(ctx, f.cfg.Budgets, f.evaluate(at), at, "")
	if err != nil || len(alerts) != 1 {
		t.Fatalf("alerts %d, %v", len(alerts), err)
	}
	if _, err := f.st.RecordAlerts(ctx, alerts, func(store.Alert) []string { return []string{"mail"} }); err != nil {
		t.Fatal(err)
	}
	env := Env{TLS: sink.client, Getenv: func(k string) string { return map[string]string{"SMTP_USER": "bot", "SMTP_PASSWORD": "pw-123"}[k] }}
	senders, err := Senders(f.cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	now := at
	d := &Deliverer{Store: f.st, Senders: senders, Now: func() time.Time { return now }}
	// The server is busy once (421): tried again after the backoff.
	if sum, err := d.Run(ctx); err != nil || sum.Failed != 1 {
		t.Fatalf("busy server: %+v, %v", sum, err)
	}
	now = now.Add(2 * DefaultRetryBase)
	if sum, err := d.Run(ctx); err != nil || sum.Sent != 1 {
		t.Fatalf("after the backoff: %+v, %v", sum, err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.mails) != 1 || sink.plain != 0 {
		t.Fatalf("sink got %d mails, %d in the clear", len(sink.mails), sink.plain)
	}
	m := sink.mails[0]
	if strings.Join(m.to, ",") != "finops@example.com,alice@example.com" || !strings.Contains(m.data, "Message-ID: <"+alerts[0].Key+"@athenawatch>") ||
		!strings.Contains(m.data, "Subject: athenawatch: budget user-month, user=alice past 100%") || !strings.Contains(m.data, "spent $15.00 of $10.00") ||
		m.user == "" {
		t.Fatalf("mail %+v", m)
	}
}
