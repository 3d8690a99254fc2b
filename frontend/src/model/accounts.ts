/** Checks of the admin page's forms, as the server makes them (backend/dataflow/security/access.py). */

export const ACCOUNT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 8;

/** Why a user or token name is refused, or null. */
export function nameProblem(name: string, what = "A name"): string | null {
  if (!name) return `${what} is required.`;
  if (!ACCOUNT_NAME_PATTERN.test(name)) return `${what} has 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit.`;
  return null;
}

/** Why a new password is refused, or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `A password has at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.trim() !== password) return "A password does not start or end with spaces.";
  return null;
}

/** A token's lifetime in days, from the form's text: a number in (0, 3650]. */
export function parseDays(text: string): number | string {
  const days = Number(text.trim());
  if (!text.trim() || !Number.isFinite(days)) return "Enter the number of days.";
  if (days <= 0 || days > 3650) return "Between 0 and 3650 days.";
  return days;
}
