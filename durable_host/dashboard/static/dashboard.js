// Durable Functions dashboard: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  // A destructive button asks first; the server-side pages do not depend on it.
  const question = button && button.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // A JSON body is checked before it is sent, so a typo does not cost a round trip.
  const field = form.dataset.validateJson;
  if (field) {
    const area = form.elements[field];
    const message = form.querySelector(".field-error");
    const text = area.value.trim();
    if (text) {
      try {
        JSON.parse(text);
      } catch (error) {
        event.preventDefault();
        message.textContent = "Not valid JSON: " + error.message + ". Quote text: \"like this\".";
        message.hidden = false;
        area.focus();
        return;
      }
    }
    message.hidden = true;
  }
});
