package callback

// outcome names a result for the attempt latency histogram: the answer's status class, or "error" when there was
// no answer (refused target, connection failure, timeout).
func (r result) outcome() string {
	switch {
	case r.err != nil || r.status < 100 || r.status > 599:
		return "error"
	case r.status < 300:
		return "2xx"
	case r.status < 400:
		return "3xx"
	case r.status < 500:
		return "4xx"
	default:
		return "5xx"
	}
}
