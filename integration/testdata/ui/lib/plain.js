// plain.js does not accept updates: a change reloads the page.
document.getElementById('plain').textContent = 'plain v1';
