// Example only. Receives the provider's webhooks (checkout model: webhook-handler, T-CHK-02).
package webhooks

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event, err := decode(r.Body) // the signature is not checked yet (M-CHK-02)
	if err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	h.queue.Publish(event) // flow f9
}
