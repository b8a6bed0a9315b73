package awsemu

import (
	"encoding/json"
	"net/http"
	"regexp"
)

// The Identity Store of IAM Identity Center: DescribeUser, for the names
// behind the user ids that trusted identity propagation records
// (onBehalfOf.userId). An identity store belongs to one account (the
// organization's management or delegated administrator account); calls
// from other accounts are denied, as its resource policy denies them.

// identityStore is one Identity Center identity store.
type identityStore struct {
	account string
	users   map[string]IdentityCenterUser
}

// IdentityCenterUser is a user of an identity store.
type IdentityCenterUser struct {
	UserID, UserName, DisplayName string
}

// AddIdentityCenterUser adds a user to the identity store storeID
// (d-1234567890) of account, creating the store on first use.
func (e *Emulator) AddIdentityCenterUser(account, storeID string, u IdentityCenterUser) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.identityStores[storeID]
	if st == nil {
		st = &identityStore{account: account, users: map[string]IdentityCenterUser{}}
		e.identityStores[storeID] = st
	}
	st.users[u.UserID] = u
}

func identityStoreService() *service {
	ops := map[string]operation{
		"DescribeUser": {readOnly: true, handle: identityStoreDescribeUser},
	}
	return &service{
		eventSource: "identitystore.amazonaws.com",
		protocol:    jsonProtocol{targetPrefix: "AWSIdentityStore", ops: ops},
		ops:         ops,
	}
}

var (
	identityStoreIDPattern = regexp.MustCompile(`^d-[0-9a-f]{10}$|^[0-9a-f]{8}\b-[0-9a-f]{4}\b-[0-9a-f]{4}\b-[0-9a-f]{4}\b-[0-9a-f]{12}$`)
	identityUserIDPattern  = regexp.MustCompile(`^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$`)
)

type describeUserResult struct {
	IdentityStoreID string `json:"IdentityStoreId"`
	UserID          string `json:"UserId"`
	UserName        string `json:"UserName"`
	DisplayName     string `json:"DisplayName,omitempty"`
}

func identityStoreDescribeUser(c *call) (any, error) {
	var req struct {
		IdentityStoreID string `json:"IdentityStoreId"`
		UserID          string `json:"UserId"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		return nil, &apiError{Code: "ValidationException", Message: err.Error(), Status: http.StatusBadRequest}
	}
	c.requestParameters = map[string]string{"identityStoreId": req.IdentityStoreID, "userId": req.UserID}
	if !identityStoreIDPattern.MatchString(req.IdentityStoreID) || !identityUserIDPattern.MatchString(req.UserID) {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: IdentityStoreId or UserId does not satisfy the constraint", Status: http.StatusBadRequest}
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	st := c.e.identityStores[req.IdentityStoreID]
	if st != nil && st.account != c.account {
		return nil, &apiError{Code: "AccessDeniedException", Status: http.StatusBadRequest,
			Message: "User: " + c.p.id.ARN + " is not authorized to perform: identitystore:DescribeUser on resource: arn:aws:identitystore::" + st.account + ":identitystore/" + req.IdentityStoreID}
	}
	var u IdentityCenterUser
	ok := false
	if st != nil {
		u, ok = st.users[req.UserID]
	}
	if !ok {
		return nil, &apiError{Code: "ResourceNotFoundException", Message: "USER not found.", Status: http.StatusBadRequest}
	}
	return describeUserResult{IdentityStoreID: req.IdentityStoreID, UserID: u.UserID, UserName: u.UserName, DisplayName: u.DisplayName}, nil
}
