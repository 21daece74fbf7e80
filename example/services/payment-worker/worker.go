// Example only. Consumes payment requests and charges the provider (checkout model: payment-worker).
package worker

func (w *Worker) Handle(req PaymentRequested) error {
	key, err := w.vault.ProviderKey() // flow f11
	if err != nil {
		return err
	}
	return w.psp.Capture(key, req.OrderID, req.Amount) // flow f6
}
