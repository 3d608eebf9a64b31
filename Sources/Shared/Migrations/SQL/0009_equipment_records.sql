-- A school's equipment lines are stored as one row per submission (its lines in a jsonb array) instead of one row
-- per line: an inventory of ten lines costs one heap tuple and two index entries instead of ten and twenty, the
-- largest share of the submission path's writes. `equipment_items` stays, as a view with the same columns, so
-- the procurement plan, the reports and operators' queries read what they read before.
CREATE TABLE equipment_records (
    submission_id   text PRIMARY KEY,
    campaign        text NOT NULL,
    school_code     text NOT NULL,
    -- [{"line_no": 0, "category": "laptop", "quantity": 3, "acquired_year": 2019, "condition": "working"}, ...]
    lines           jsonb NOT NULL CHECK (jsonb_typeof(lines) = 'array')
);
CREATE INDEX equipment_records_school ON equipment_records (campaign, school_code);

INSERT INTO equipment_records (submission_id, campaign, school_code, lines)
SELECT submission_id, campaign, school_code,
       jsonb_agg(jsonb_build_object('line_no', line_no, 'category', category, 'quantity', quantity,
                                    'acquired_year', acquired_year, 'condition', condition) ORDER BY line_no)
FROM equipment_items GROUP BY submission_id, campaign, school_code;

-- Serials now belong to the record (an `inventory` that replaces it deletes them with it).
ALTER TABLE equipment_serials DROP CONSTRAINT equipment_serials_submission_id_line_no_fkey;
DROP TABLE equipment_items;
ALTER TABLE equipment_serials
    ADD FOREIGN KEY (submission_id) REFERENCES equipment_records ON DELETE CASCADE;

CREATE VIEW equipment_items AS
SELECT r.submission_id, l.line_no, r.campaign, r.school_code, l.category, l.quantity, l.acquired_year, l.condition
FROM equipment_records r,
     jsonb_to_recordset(r.lines) AS l(line_no integer, category text, quantity integer, acquired_year integer,
                                      condition text);
