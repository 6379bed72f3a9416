package licensing

// The bodies of the admin actions that take no more than a reason or one
// id: the API decodes them and the admin client (api/apiclient) sends them.

// ReasonInput is the body of an action that only records why (suspend,
// reinstate, revoke, block, unblock, redeliver, yank).
type ReasonInput struct {
	Reason string `json:"reason,omitempty"`
}

// ChangePolicyInput moves a license to another policy of its product.
type ChangePolicyInput struct {
	PolicyID string `json:"policy_id"`
	Reason   string `json:"reason,omitempty"`
}

// TransferInput gives a license to another customer.
type TransferInput struct {
	CustomerID string `json:"customer_id"`
	Reason     string `json:"reason,omitempty"`
}
