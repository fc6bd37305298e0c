// label.js accepts its own updates: the page swaps it without a reload.
export const label = 'label v1';
document.getElementById('label').textContent = label;
hotreload.dispose(import.meta.url, () => { window.disposed = (window.disposed || 0) + 1; });
hotreload.accept(import.meta.url, (next) => { window.accepted = next.label; });
