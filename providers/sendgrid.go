package providers

// SendGrid is the SendGrid v3 API (mail send).
//
// Facts (docs.sendgrid.com): SendGrid has no idempotency keys and does not
// de-duplicate. The key is sent in X-Idempotency-Key for traceability only;
// the local record is the only guard. So a send that may have gone out (the
// request was written and no answer came, or a 5xx came back) is in doubt and
// is never re-sent silently: the call returns ErrInDoubt (or, for a 5xx, the
// 5xx), and so do later calls, unless a Probe on the route settles it.
//
// POST /v3/mail/send is keyed on sender, recipients, subject, template and
// template data (KeyFields), not on the body text: an agent whose model
// rewords the email after a restart still sends one email. Two emails with
// the same sender, recipients, subject and template data in one scope are
// therefore one email: give distinct emails distinct subjects or data, or
// distinct scopes. The first personalization is used; adjust KeyFields for
// multi-personalization sends. A subuser's on-behalf-of header namespaces
// records like the API key does.
func SendGrid() Provider {
	return Provider{
		Name:           "sendgrid",
		Hosts:          []string{"api.sendgrid.com"},
		KeyHeader:      "X-Idempotency-Key",
		Dedup:          false,
		AccountHeaders: []string{"On-Behalf-Of"},
		Routes: []Route{{
			Method: "POST",
			Path:   "/v3/mail/send",
			KeyFields: []string{
				"/from/email",
				"/personalizations/0/to",
				"/personalizations/0/cc",
				"/personalizations/0/bcc",
				"/personalizations/0/subject",
				"/personalizations/0/dynamic_template_data",
				"/personalizations/0/substitutions",
				"/personalizations/0/send_at",
				"/subject",
				"/template_id",
				"/send_at",
			},
		}},
	}
}
