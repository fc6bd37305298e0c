// x-counter keeps its count in a plain field, so it survives a reload of
// its implementation.
hotreload.define('x-counter', class extends HTMLElement {
  connectedCallback() {
    this.count ??= 0;
    this.onclick = () => { this.count++; this.render(); };
    this.render();
  }
  render() { this.textContent = `v1 count=${this.count}`; }
});
