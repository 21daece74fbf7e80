// Example only. Push notifications through the mobile push provider: a new outbound call
// that the notifications model does not describe yet.
async function sendPush(deviceToken, event) {
  return post("https://push.push-provider.example/v1/send", {
    token: deviceToken,
    title: event.summary,
    // Example only: the order number goes to the push provider too, so a phone can open it.
    data: { order: event.orderId },
  });
}

module.exports = { sendPush };
