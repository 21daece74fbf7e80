// Example only. Push notifications through the mobile push provider: a new outbound call
// that the notifications model does not describe yet.
async function sendPush(deviceToken, event) {
  return post("https://push.push-provider.example/v1/send", {
    token: deviceToken,
    title: event.summary,
  });
}

module.exports = { sendPush };
