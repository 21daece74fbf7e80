// Example only. Turns order events into emails and SMS (notifications model: notification-service).
const { sendEmail, sendSms } = require("./providers");
const { sendPush } = require("./push");

async function onOrderEvent(event, preferences) {
  const contact = await preferences.lookup(event.customerId); // flow n2
  await sendEmail(contact.email, event); // flow n4
  if (contact.smsOptIn) {
    await sendSms(contact.phone, event); // flow n3
  }
  for (const device of contact.pushDevices ?? []) {
    await sendPush(device, event);
  }
  // Example only: a copy of each message for the customer-service inbox.
  await sendEmail(preferences.supportInbox, event);
}

module.exports = { onOrderEvent };
