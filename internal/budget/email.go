package budget

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// emailSender sends alerts over SMTP: STARTTLS (required but on a
// loopback server), then the login when one is configured, then one
// message to every recipient, and to the user the alert is about when the
// configuration maps the user to an address.
type emailSender struct {
	name, addr, host, from string
	to                     []string
	toUser                 bool
	userEmails             map[string]string
	username, password     string
	tls                    *tls.Config
}

func (e *emailSender) recipients(m Message) []string {
	out := append([]string(nil), e.to...)
	if !e.toUser {
		return out
	}
	for part := range strings.SplitSeq(m.Scope, ",") {
		if user, ok := strings.CutPrefix(part, "user="); ok {
			if addr := e.userEmails[user]; addr != "" {
				out = append(out, addr)
			}
		}
	}
	return out
}

// headerText is a header value: no line breaks (no header injection),
// and words outside ASCII encoded.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return mime.QEncoding.Encode("utf-8", s)
}

func (e *emailSender) message(key string, m Message, to []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", e.from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", headerText(subject(m)))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@athenawatch>\r\n", key)
	fmt.Fprintf(&b, "X-Athenawatch-Idempotency-Key: %s\r\n", key)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	// The SMTP data writer dot-stuffs lines that start with a dot.
	for line := range strings.SplitSeq(PlainText(m), "\n") {
		b.WriteString(strings.TrimSuffix(line, "\r") + "\r\n")
	}
	return b.Bytes()
}

func (e *emailSender) Send(ctx context.Context, key string, payload []byte) error {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return &PermanentError{fmt.Errorf("notifier %s: alert %s: %v", e.name, key, err)}
	}
	to := e.recipients(m)
	if len(to) == 0 {
		return &PermanentError{fmt.Errorf("notifier %s: no recipient for %s", e.name, m.Scope)}
	}
	if err := e.send(ctx, to, e.message(key, m, to)); err != nil {
		var tp *textproto.Error
		if errors.As(err, &tp) && tp.Code >= 500 {
			return &PermanentError{fmt.Errorf("notifier %s: the SMTP server refused the message: %d %s", e.name, tp.Code, tp.Msg)}
		}
		return fmt.Errorf("notifier %s: %w", e.name, err)
	}
	return nil
}

func (e *emailSender) send(ctx context.Context, to []string, msg []byte) error {
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("athenawatch"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := e.tls
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = e.host
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	} else if ip := net.ParseIP(e.host); !(e.host == "localhost" || ip != nil && ip.IsLoopback()) {
		return &PermanentError{errors.New("the SMTP server offers no STARTTLS: athenawatch does not send alerts in the clear")}
	}
	if e.username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.username, e.password, e.host)); err != nil {
			return fmt.Errorf("login: %w", err)
		}
	}
	if err := c.Mail(e.from); err != nil {
		return err
	}
	for _, rcpt := range to {
		addr, err := mail.ParseAddress(rcpt)
		if err != nil {
			return &PermanentError{fmt.Errorf("recipient %q: %v", rcpt, err)}
		}
		if err := c.Rcpt(addr.Address); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
