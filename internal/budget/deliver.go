package budget

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Defaults of Deliverer.
const (
	// DefaultRetryBase is the delay after a first failed delivery; it
	// doubles with each failure up to DefaultRetryMax.
	DefaultRetryBase = 30 * time.Second
	DefaultRetryMax  = time.Hour
	// DefaultGiveUpAfter is how long after an alert fired its deliveries
	// are tried.
	DefaultGiveUpAfter = 48 * time.Hour
	sendTimeout        = 20 * time.Second
)

// Deliverer sends the alerts of the outbox that are due.
type Deliverer struct {
	Store   *store.Store
	Senders map[string]Sender
	// Broken are configured notifiers that cannot send now (a secret is
	// missing): their deliveries wait, untouched, until they can.
	Broken map[string]error
	Logger *slog.Logger
	// Now is the clock of due times; nil is time.Now.
	Now func() time.Time
	// RetryBase, RetryMax and GiveUpAfter shape retries (0: defaults).
	RetryBase, RetryMax, GiveUpAfter time.Duration
	// sent, when set, is called after a successful send and before it is
	// recorded (tests stop there to be a crash).
	sent func(store.Delivery) error
}

// DeliverySummary counts what one Run did.
type DeliverySummary struct {
	Sent    int // delivered
	Failed  int // failed, to be tried again
	GivenUp int // failed for good (refused, notifier gone, too old)
	Waiting int // due, for a notifier that cannot send now (Broken)
	// Why is the first failure's reason.
	Why string
}

// Run tries every delivery due now once: a success is recorded as
// delivered; a failure is tried again after a backoff, or given up when
// the endpoint refused it or the alert is too old.
func (d *Deliverer) Run(ctx context.Context) (DeliverySummary, error) {
	var sum DeliverySummary
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, most, giveUp := d.RetryBase, d.RetryMax, d.GiveUpAfter
	if base <= 0 {
		base = DefaultRetryBase
	}
	if most <= 0 {
		most = DefaultRetryMax
	}
	if giveUp <= 0 {
		giveUp = DefaultGiveUpAfter
	}
	due, err := d.Store.DueDeliveries(ctx, now(), 1000)
	if err != nil {
		return sum, err
	}
	for _, dl := range due {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if _, broken := d.Broken[dl.Notifier]; broken {
			sum.Waiting++
			continue
		}
		sender := d.Senders[dl.Notifier]
		var sendErr error
		if sender == nil {
			sendErr = &PermanentError{errors.New("no notifier named " + dl.Notifier + " in the configuration any more")}
		} else {
			sctx, cancel := context.WithTimeout(ctx, sendTimeout)
			sendErr = sender.Send(sctx, dl.Key, []byte(dl.Payload))
			cancel()
		}
		at := now()
		if sendErr == nil {
			if d.sent != nil {
				if err := d.sent(dl); err != nil {
					return sum, err
				}
			}
			if err := d.Store.MarkDelivered(context.WithoutCancel(ctx), dl.ID, at); err != nil {
				return sum, err
			}
			sum.Sent++
			continue
		}
		var perm *PermanentError
		final := errors.As(sendErr, &perm) || at.Sub(dl.CreatedAt) > giveUp
		next := at.Add(jitter(backoff(base, most, dl.Attempts+1)))
		if err := d.Store.MarkFailed(context.WithoutCancel(ctx), dl.ID, at, next, sendErr.Error(), final); err != nil {
			return sum, err
		}
		if sum.Why == "" {
			sum.Why = sendErr.Error()
		}
		if final {
			sum.GivenUp++
			log.Warn("gave up delivering a budget alert", slog.String("notifier", dl.Notifier), slog.String("alert", dl.Key), slog.String("error", sendErr.Error()))
		} else {
			sum.Failed++
			log.Info("budget alert not delivered; trying again later", slog.String("notifier", dl.Notifier), slog.String("alert", dl.Key),
				slog.Time("next", next), slog.String("error", sendErr.Error()))
		}
	}
	return sum, nil
}

// backoff is the delay before attempt n+1 after n failures.
func backoff(base, most time.Duration, n int) time.Duration {
	d := most
	if n < 30 {
		d = min(base<<max(n-1, 0), most)
	}
	return d
}

// jitter spreads retries over [d/2, d].
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(half+1)
}
