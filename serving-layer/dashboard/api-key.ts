// The reader API key: kept in sessionStorage only (gone when the tab closes, never in localStorage
// or a cookie), asked for when the server answers 401.
const STORAGE_KEY = 'tidewater.apiKey';

/** Which keys work: any role that reads, including the admin key the first `npm start` printed. */
export const KEY_HINT =
  'The admin key `npm start` printed works, or a reader key (`npx tidewater keys create --role reader`).';

export const storedKey = (): string | null => sessionStorage.getItem(STORAGE_KEY);

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

let asking: Promise<string> | undefined;

/** Shows the key dialog (once, however many requests were refused) and resolves with the key. */
export function askForKey(reason: string): Promise<string> {
  asking ??= new Promise<string>((resolve) => {
    const dialog = document.querySelector<HTMLDialogElement>('#key-dialog');
    const form = dialog?.querySelector('form');
    const input = dialog?.querySelector<HTMLInputElement>('input[name=key]');
    const message = dialog?.querySelector<HTMLElement>('.reason');
    if (!dialog || !form || !input || !message) throw new Error('the page has no #key-dialog');
    message.textContent = reason;
    input.value = '';
    form.addEventListener(
      'submit',
      (event) => {
        event.preventDefault();
        const key = input.value.trim();
        sessionStorage.setItem(STORAGE_KEY, key);
        dialog.close();
        asking = undefined;
        resolve(key);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
  return asking;
}
