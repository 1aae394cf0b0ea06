// "My requests": refresh the rows every two seconds (no build step, no framework).
(function () {
  var body = document.getElementById("my-rows");
  if (!body) return;
  setInterval(function () {
    fetch(body.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && html !== body.innerHTML) body.innerHTML = html; });
  }, 2000);
})();
