package providers

// Generic is a server following the IETF draft "The Idempotency-Key HTTP
// Header Field" (draft-ietf-httpapi-idempotency-key-header): the key in the
// Idempotency-Key header, 409 while the same key is still executing, 422 for
// the same key with another payload.
//
// The draft defines the value as an RFC 8941 sf-string (quoted); many servers
// take the raw token instead. QuoteKey selects the quoted form. Whether the
// server actually de-duplicates is a property of that server: Dedup defaults
// to false, the safe assumption (a request that may have gone out is in
// doubt, a store outage fails closed). Set Hosts and Dedup for a server you
// know. RecordsErrors is set, as the draft keeps a key's result, success or
// error: clear it for a server that keeps only successes. Set Retention to
// how long the server remembers keys: while it is unknown (0), an operation
// left in doubt is never re-sent.
//
// Generic with no Hosts is the fallback for hosts no other provider matches.
func Generic() Provider {
	return Provider{
		Name:             "generic",
		KeyHeader:        "Idempotency-Key",
		RecordsErrors:    true, // the draft: a key's result is kept, success or error
		InProgressStatus: 409,
		AccountHeaders:   []string{"X-API-Key"},
	}
}
