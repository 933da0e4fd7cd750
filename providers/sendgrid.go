package providers

// SendGrid is the SendGrid v3 API (mail send).
//
// Facts (docs.sendgrid.com): SendGrid has no idempotency keys and does not
// de-duplicate. The key is sent in X-Idempotency-Key for traceability only;
// the local record is the only guard. So a send that may have gone out (the
// request was written and no answer came, or a 5xx came back) is in doubt and
// is never re-sent silently: the call returns ErrInDoubt unless a Probe on the
// route settles it.
//
// POST /v3/mail/send is keyed on sender, recipients, subject and template
// (KeyFields), not on the body text: an agent whose model rewords the email
// after a restart still sends one email. The first personalization is used;
// adjust KeyFields for multi-personalization sends.
func SendGrid() Provider {
	return Provider{
		Name:      "sendgrid",
		Hosts:     []string{"api.sendgrid.com"},
		KeyHeader: "X-Idempotency-Key",
		Dedup:     false,
		Routes: []Route{{
			Method: "POST",
			Path:   "/v3/mail/send",
			KeyFields: []string{
				"/from/email",
				"/personalizations/0/to",
				"/personalizations/0/cc",
				"/personalizations/0/bcc",
				"/personalizations/0/subject",
				"/subject",
				"/template_id",
			},
		}},
	}
}
