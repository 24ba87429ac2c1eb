import { createRng } from '../../transforms/random';

/** ~6 MB of transactions with the dirt a bank extract has, spread over many read units. */
export function messyTransactions(rows: number): string {
  const rng = createRng(42);
  const lines = ['txn_id,account_id,customer_key,txn_ts,amount,direction,channel,category'];
  for (let i = 0; i < rows; i++) {
    const id = `T${String(i).padStart(12, '0')}`;
    const r = rng.next();
    let line = `${id},A${i % 997},C${i % 991},2026-11-${String(1 + (i % 19)).padStart(2, '0')}T10:00:00+08:00,${(i % 5000) + 0.25},debit,mobile,shopping`;
    if (r < 0.01) line = line.replace(',debit,', ',sideways,'); // bad enum
    else if (r < 0.02) line = line.replace('+08:00', '+08:00,extra'); // column count
    else if (r < 0.03) line = `${id},A1,C1,2026-12-30T10:00:00+08:00,1.00,debit,mobile,shopping`; // future
    else if (r < 0.04) line = `"${id}","A1","C1, ""quoted""","2026-11-01 08:00","1,234.50",credit,online,salary`; // quoted fields
    else if (r < 0.045) line = `"${id}",A1,"C1\nsecond line",2026-11-01T08:00:00+08:00,2.00,credit,online,salary`; // newline in a field
    else if (r < 0.05) line = `T${String(i - 3).padStart(12, '0')},A1,C1,2026-11-01T08:00:00+08:00,3.00,credit,online,salary`; // repeated key
    else if (r < 0.052) line = `"${id}"x,A1,C1,2026-11-01T08:00:00+08:00,4.00,credit,online,salary`; // stray character after a quote
    else if (r < 0.054) line = '';
    else if (r < 0.056) line = `${id},A1,C1,2026-11-01T08:00:00+08:00, 12.5 ,credit,online,salary\r`; // spaces, CRLF
    lines.push(line);
  }
  return lines.join('\n'); // no line break after the last line
}

