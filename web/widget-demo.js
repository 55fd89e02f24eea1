// widget-demo.js: adds the chat widget's snippet to widget-demo.html with
// data-queue taken from the page's ?queue= parameter (Hotline's pages allow
// no inline script, so the demo cannot just contain the tag).
(function () {
  'use strict';
  var queue = new URLSearchParams(location.search).get('queue') || '';
  var src = location.origin + '/widget.js';
  var s = document.createElement('script');
  s.src = src;
  s.async = true;
  s.setAttribute('data-queue', queue);
  document.body.append(s);
  var code = document.getElementById('snippet');
  if (code) {
    var attr = queue.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    code.textContent = '<script src="' + src + '" data-queue="' + attr + '" async></script>';
  }
})();
