/** One line of `stitch doctor`'s report (doctor.ts, doctor-vault.ts). */
export type DoctorStatus = 'ok' | 'warn' | 'fail';

export interface DoctorRow {
  check: 'registry' | 'vault' | 'worker' | 'base-url' | 'database' | 'queue';
  subject: string;
  status: DoctorStatus;
  detail: string;
  /** What to do about it (problems only). */
  fix?: string;
}
