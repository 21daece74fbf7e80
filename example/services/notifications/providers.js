// Example only. Clients of the email and SMS providers (notifications model: flows n3, n4).
async function sendEmail(address, event) {
  return post("https://api.mail-provider.example/v3/send", { to: address, template: event.type });
}

async function sendSms(number, event) {
  // Messages show the shop's name as the sender instead of a shared short code.
  return post("https://api.sms-provider.example/messages", {
    from: "SHOP",
    to: number,
    text: event.summary,
  });
}

module.exports = { sendEmail, sendSms };
