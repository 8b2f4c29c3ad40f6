package lighthouse

// TokenWaiters is how many callers wait on c's token fetch, for specs that
// must know a caller has joined it.
func TokenWaiters(c *Client) int {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	return c.flights.waiters
}
