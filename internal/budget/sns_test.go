package budget

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/store"
)

// TestSNSNotifier publishes alerts to a topic of the emulator's SNS through
// the SDK: a readable default text, the JSON message for machines, and the
// idempotency key as an attribute; a topic that does not exist is given up.
func TestSNSNotifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	c := emu.AddUser("111111111111", "collector")
	topic := emu.AddTopic("111111111111", "eu-west-1", "athena-budgets")
	f := newFixture(t, `
notifiers:
  - {name: topic, type: sns, topic_arn: "`+topic+`"}
  - {name: gone, type: sns, topic_arn: "arn:aws:sns:eu-west-1:111111111111:missing"}
budgets: [{name: user-month, scope: {user: "*"}, limit_usd: 10, notify: [topic, gone]}]
`)
	at := alertingQueries(f)
	e := &Evaluator{Src: f.st, Rules: f.rules, Prices: pricesOf(f)}
	alerts, err := e.Alerts(ctx, f.cfg.Budgets, f.evaluate(at), at, "")
	if err != nil || len(alerts) != 1 {
		t.Fatalf("alerts %d, %v", len(alerts), err)
	}
	if _, err := f.st.RecordAlerts(ctx, alerts, func(store.Alert) []string { return []string{"topic", "gone"} }); err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	senders, err := Senders(f.cfg, Env{AWS: func(context.Context) (aws.Config, error) { return cfg, nil }})
	if err != nil {
		t.Fatal(err)
	}
	d := &Deliverer{Store: f.st, Senders: senders}
	if sum, err := d.Run(ctx); err != nil || sum.Sent != 1 || sum.GivenUp != 1 || !strings.Contains(sum.Why, "NotFound") {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	got := emu.Published(topic)
	if len(got) != 1 || got[0].MessageStructure != "json" || got[0].Attributes["idempotency_key"] != alerts[0].Key ||
		!strings.Contains(got[0].Subject, "budget user-month, user=alice past 100%") {
		t.Fatalf("published %+v", got)
	}
	var per map[string]string
	if err := json.Unmarshal([]byte(got[0].Message), &per); err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := json.Unmarshal([]byte(per["sqs"]), &m); err != nil || m.IdempotencyKey != alerts[0].Key {
		t.Fatalf("sqs message %q: %v", per["sqs"], err)
	}
	if !strings.Contains(per["default"], "spent $15.00 of $10.00") {
		t.Fatalf("default text %q", per["default"])
	}
}
