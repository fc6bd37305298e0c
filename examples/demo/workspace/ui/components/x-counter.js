// x-counter is a component whose code reloads in place: edit render() and
// save; the count you clicked up stays, because state lives in fields.
hotreload.define('x-counter', class extends HTMLElement {
  connectedCallback() {
    this.count ??= 0;
    this.onclick = () => { this.count++; this.render(); };
    this.render();
  }

  render() {
    this.textContent = `clicked ${this.count} times`;
  }
});
