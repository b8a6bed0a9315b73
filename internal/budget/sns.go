package budget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
)

// snsSender publishes alerts to an Amazon SNS topic with athenawatch's AWS
// credentials: a readable text for e-mail and SMS subscribers, the JSON
// message for queues, functions and HTTP endpoints (MessageStructure
// json), and the idempotency key as a message attribute.
type snsSender struct {
	name, topic string
	load        func(context.Context) (aws.Config, error)

	once   sync.Once
	client *sns.Client
	err    error
}

func (s *snsSender) init(ctx context.Context) error {
	s.once.Do(func() {
		load := s.load
		if load == nil {
			load = func(ctx context.Context) (aws.Config, error) { return awsconfig.LoadDefaultConfig(ctx) }
		}
		cfg, err := load(ctx)
		if err != nil {
			s.err = fmt.Errorf("notifier %s: %w", s.name, err)
			return
		}
		region := strings.Split(s.topic, ":")[3] // the ARN was validated
		s.client = sns.NewFromConfig(cfg, func(o *sns.Options) { o.Region = region })
	})
	return s.err
}

func (s *snsSender) Send(ctx context.Context, key string, payload []byte) error {
	if err := s.init(ctx); err != nil {
		return err
	}
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return &PermanentError{fmt.Errorf("notifier %s: alert %s: %v", s.name, key, err)}
	}
	text := PlainText(m)
	body, err := json.Marshal(map[string]string{
		"default": text, "email": text, "sms": text,
		"email-json": string(payload), "sqs": string(payload), "lambda": string(payload), "http": string(payload), "https": string(payload),
		"firehose": string(payload),
	})
	if err != nil {
		return &PermanentError{err}
	}
	_, err = s.client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.topic), Subject: aws.String(asciiSubject(subject(m))), Message: aws.String(string(body)),
		MessageStructure: aws.String("json"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"idempotency_key": {DataType: aws.String("String"), StringValue: aws.String(key)},
		},
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			switch ae.ErrorCode() {
			case "NotFound", "AuthorizationError", "InvalidParameter", "InvalidParameterValue", "KMSAccessDenied", "KMSDisabled", "KMSNotFound":
				return &PermanentError{fmt.Errorf("notifier %s: %s: %s", s.name, ae.ErrorCode(), ae.ErrorMessage())}
			}
		}
		return fmt.Errorf("notifier %s: %w", s.name, err)
	}
	return nil
}

// asciiSubject makes a subject SNS accepts: printable ASCII, at most 100
// characters.
func asciiSubject(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
		if b.Len() >= 100 {
			break
		}
	}
	return b.String()
}
