package awsemu

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// Amazon SNS: Publish to topics made with AddTopic, for budget alerts. A
// topic belongs to one account and region; what was published is kept
// for tests (Published).

// SNSMessage is one message published to a topic.
type SNSMessage struct {
	MessageID, Subject, Message, MessageStructure string
	Attributes                                    map[string]string
}

type snsTopic struct {
	account, region string
	messages        []SNSMessage
}

// AddTopic creates the topic NAME in account and region and returns its ARN.
func (e *Emulator) AddTopic(account, region, name string) string {
	arn := "arn:aws:sns:" + region + ":" + account + ":" + name
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.topics[arn] == nil {
		e.topics[arn] = &snsTopic{account: account, region: region}
	}
	return arn
}

// Published returns the messages published to a topic, in order.
func (e *Emulator) Published(topicARN string) []SNSMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.topics[topicARN]; t != nil {
		return append([]SNSMessage(nil), t.messages...)
	}
	return nil
}

func snsService() *service {
	ops := map[string]operation{
		"Publish": {readOnly: false, handle: snsPublish},
	}
	return &service{
		eventSource: "sns.amazonaws.com",
		protocol:    queryProtocol{version: "2010-03-31", xmlns: "http://sns.amazonaws.com/doc/2010-03-31/", ops: ops},
		ops:         ops,
	}
}

type publishResult struct {
	XMLName   xml.Name `xml:"PublishResult"`
	MessageID string   `xml:"MessageId"`
}

func snsInvalid(msg string) *apiError {
	return &apiError{Code: "InvalidParameter", Message: "Invalid parameter: " + msg, Status: http.StatusBadRequest}
}

func snsPublish(c *call) (any, error) {
	form, _ := url.ParseQuery(string(c.body))
	arn := form.Get("TopicArn")
	m := SNSMessage{Subject: form.Get("Subject"), Message: form.Get("Message"), MessageStructure: form.Get("MessageStructure"), Attributes: map[string]string{}}
	c.requestParameters = map[string]string{"topicArn": arn}
	switch {
	case m.Message == "":
		return nil, snsInvalid("Empty message")
	case len(m.Message) > 256*1024:
		return nil, snsInvalid("Message too long")
	case len(m.Subject) > 100 || strings.ContainsFunc(m.Subject, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) }):
		return nil, snsInvalid("Subject")
	}
	if m.MessageStructure != "" {
		var per map[string]string
		if m.MessageStructure != "json" || json.Unmarshal([]byte(m.Message), &per) != nil || per["default"] == "" {
			return nil, snsInvalid("Message Structure - JSON message body failed to parse or has no default key")
		}
	}
	for i := 1; ; i++ {
		p := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		name := form.Get(p + "Name")
		if name == "" {
			break
		}
		m.Attributes[name] = form.Get(p + "Value.StringValue")
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	t := c.e.topics[arn]
	if t == nil || t.account != c.account || t.region != c.region {
		return nil, &apiError{Code: "NotFound", Message: "Topic does not exist", Status: http.StatusNotFound}
	}
	m.MessageID = c.e.newID()
	t.messages = append(t.messages, m)
	c.responseElements = map[string]string{"messageId": m.MessageID}
	return publishResult{MessageID: m.MessageID}, nil
}
